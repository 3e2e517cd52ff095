/* launch.h: command mode: start COMMAND stopped before any of its code runs, so tracing sees it all. */
#ifndef LT_LAUNCH_H
#define LT_LAUNCH_H

#include <sys/types.h>

/*
 * Forks and executes argv[0] (searched in PATH) under ptrace and stops it where tracing can start
 * and nothing of the program has run: once the dynamic linker has mapped every library it loads
 * at start-up, before their constructors (a static binary: at its exec).
 * Returns the child's pid, or -errno: -ENOENT / -EACCES / -ENOEXEC when the command cannot be
 * executed (logged), -ECHILD when it died before reaching its entry point.
 */
pid_t launch_stopped(char *const argv[]);

/*
 * Runs pid, stopped under ptrace at an exec, to where tracing starts (as launch_stopped() does for
 * its child): its libraries mapped, before their constructors. 0 or -errno.
 */
int launch_run_to_start(pid_t pid);

/* Lets the stopped child run (detaches ptrace). 0 or -errno. */
int launch_resume(pid_t pid);

/* Kills and reaps a child that was never resumed. */
void launch_abort(pid_t pid);

#endif
