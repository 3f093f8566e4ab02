/* 2 threads mutating their own counters and a shared one. */
#define NTHREADS 2
#include "threads_counter.h"
