/* dataonly.c: fixture library whose debug info has a unit but no code, so no address ranges. */
int fx_data = 1;
