#ifndef CMALLOCINFO_H
#define CMALLOCINFO_H
#include <stddef.h>

/// Bytes the process's malloc has handed out and not freed: glibc mallinfo2() uordblks (in-use bytes in
/// the main arena, chunk headers included) + hblkhd (bytes in mmap()ed chunks, i.e. large blocks such as
/// big dictionary storage). Only the main arena is counted, so call it from a program that allocates on
/// its main thread only. 0 where mallinfo2 is unavailable.
size_t cmallocinfo_in_use_bytes(void);

/// malloc_trim(0): returns free heap pages to the kernel so that RSS reflects live memory. 0 elsewhere.
int cmallocinfo_trim(void);

#endif
