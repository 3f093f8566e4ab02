/* 8 threads mutating their own counters and a shared one. */
#define NTHREADS 8
#include "threads_counter.h"
