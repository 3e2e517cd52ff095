/* tui.h: the live top-style view on a terminal (ncurses): screen, keys, refresh loop. */
#ifndef LT_TUI_H
#define LT_TUI_H

#include "ui/live.h"
#include "ui/loop.h"
#include "ui/pipeline.h"

/*
 * Runs the full-screen view on stdout (keys from stdin when it is a terminal) over l (the caller
 * has set its targets, stop signals and end), a frame every interval_s (+ and - change it),
 * until q, the end of l, or a failure (the loop's failure policy). The terminal is restored on
 * each of these paths before tui_run() returns, and if leaktop crashes meanwhile (crash.h). While
 * the view holds the screen, what leaktop logs to a terminal stderr is held back and written once
 * the terminal is restored. What pipeline_run() returns; -ENOTTY when the terminal cannot be
 * driven (unknown TERM).
 */
int tui_run(struct pipeline *p, struct live *live, struct loop *l, double interval_s);

#endif
