/* The allocation-failure hook (alloc.h). */
#include "alloc.h"

_Atomic(weft__alloc_hook_fn) weft__alloc_hook;
