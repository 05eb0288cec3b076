#pragma once
// Writes a report to stderr when the process dies of a fatal signal (SIGSEGV,
// SIGBUS, SIGFPE, SIGILL, SIGABRT): the signal, the faulting address, the
// thread, and the stack with function, file and line (from the binary's own
// debug info, via GCC's libbacktrace when the build found it; raw addresses
// otherwise). The signal is then raised again with its default action, so the
// exit status and any core dump are what they would have been.
//
// Why: a crash in a test or a chaos run on CI leaves only the broker's log;
// with this, the log says where it crashed.
//
// Thread-safety: call install_crash_report() once, early in main(), before
// other threads start.
namespace runnel::app {

void install_crash_report();

}  // namespace runnel::app
