#!/usr/bin/env bash
# The runtime's layers call only down (docs/architecture.md): each file in
# runtime/ includes only internal headers placed below it, and a task kind
# reaches the scheduler only through scheduler.h. Fails
# naming every include that breaks the rule, and every file the table
# below does not place (a new file must be given a layer).
# Usage: bash tests/layers/check.sh [runtime-dir]
set -euo pipefail
dir=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../runtime" && pwd)}

# Levels: leaves 0-9, the scheduler 10-19, task kinds 20-29, the pool's API
# 30. A file may include its own header and headers of lower levels, so
# no two files include (and so call) each other in a circle, and a layer's
# files are in the order in which they may call one another.
declare -A level=(
  [compiler]=0 [alloc]=1 [futex]=1 [fork]=1 [task]=1 [status]=2 [slab]=2
  [deque]=2 [inject]=2 [word]=2 [topology]=2 [listeners]=2 [env]=2
  [worker]=10 [steal]=11 [spread]=11 [spare]=12 [park]=13 [submit]=14
  [lazy]=15 [run]=16 [loop]=17 [borrow]=17 [wait]=18 [scheduler]=19
  [future]=20 [group]=20 [root]=20 [promise]=21 [callback]=21 [ctx]=21 [parallel]=21
  [waitset]=21 [bulk]=21 [map]=22 [wait_many]=22 [mapiter]=23
  [pool]=30
)

bad=0
for f in "$dir"/*.c "$dir"/*.h; do
  base=$(basename "$f"); name=${base%.*}
  mine=${level[$name]:-}
  if [ -z "$mine" ]; then
    echo "layers: $base has no level in tests/layers/check.sh"
    bad=1
    continue
  fi
  while read -r inc; do
    dep=${inc%.h}
    theirs=${level[$dep]:-}
    [ -n "$theirs" ] || continue # weft.h and system headers
    [ "$dep" != "$name" ] || continue # its own header
    if [ "$theirs" -ge "$mine" ]; then
      echo "layers: $base (level $mine) includes $inc (level $theirs): not below it"
      bad=1
    elif [ $((mine / 10)) -eq 2 ] && [ $((theirs / 10)) -eq 1 ] && [ "$dep" != scheduler ]; then
      echo "layers: $base (a task kind) includes $inc: kinds use scheduler.h only"
      bad=1
    fi
  done < <(sed -n 's/^#include "\([a-z_]*\.h\)".*/\1/p' "$f")
done
if [ "$bad" -ne 0 ]; then
  echo "layers: FAILED"
  exit 1
fi
echo "layers: every include points down"
