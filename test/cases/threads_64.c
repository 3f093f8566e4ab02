/* 64 threads mutating their own counters and a shared one. */
#define NTHREADS 64
#include "threads_counter.h"
