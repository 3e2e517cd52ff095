/* tui.h: the live top-style view on a terminal (ncurses): screen, keys, refresh loop. */
#ifndef LT_TUI_H
#define LT_TUI_H

#include "ui/live.h"

/*
 * Runs the full-screen view on stdout (keys from stdin when it is a terminal) until q, the end of
 * the duration, a stop signal, every target exiting, or an error. The terminal is restored on
 * each of these paths before tui_run() returns. While the view holds the screen, what leaktop
 * logs to a terminal stderr is held back and written once the terminal is restored. 0, or -errno
 * (-ENOTTY when the terminal cannot be driven: unknown TERM).
 */
int tui_run(struct live *l, const struct live_run *run);

#endif
