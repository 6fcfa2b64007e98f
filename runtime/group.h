/* Fork/join groups (group.c): what the other task kinds use besides
 * weft.h's API. */
#ifndef WEFT_GROUP_H
#define WEFT_GROUP_H

#include "weft.h"

/* Like weft_group_init, but children are published at once (no lazy
 * publication): for loops whose leaves run long. */
void weft__group_init_eager(weft_group *g, weft_ctx *ctx);

#endif
