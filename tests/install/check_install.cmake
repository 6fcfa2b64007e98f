# Install weft into a staging prefix and build a consumer against it, the way
# users will: find_package(weft CONFIG) with weft::weft and weft::weft_static,
# then pkg-config (shared, and --static with the static library). Each
# consumer binary is run and must exit 0. Run by ctest as
#   cmake -DWEFT_SOURCE_DIR=<src> -DWEFT_BINARY_DIR=<build> -P check_install.cmake
cmake_minimum_required(VERSION 3.21)

foreach(var WEFT_SOURCE_DIR WEFT_BINARY_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "check_install: pass -D${var}=<dir>")
  endif()
endforeach()

set(work ${WEFT_BINARY_DIR}/install-check)
set(prefix ${work}/prefix)
set(consumer_src ${WEFT_SOURCE_DIR}/tests/install/consumer)
file(REMOVE_RECURSE ${work})
file(MAKE_DIRECTORY ${work})

# run(<what> <command>...): run a command, fail the test if it fails, and
# leave its standard output in run_output.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "check_install: ${what} failed (${rc})\n  ${cmd}\n${out}\n${err}")
  endif()
  message(STATUS "check_install: ${what}: ok")
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

# The compiler weft was built with (from its cache), else cc.
file(STRINGS ${WEFT_BINARY_DIR}/CMakeCache.txt cc_line REGEX "^CMAKE_C_COMPILER:[A-Z]+=")
string(REGEX REPLACE "^[^=]*=" "" cc "${cc_line}")
if(NOT cc)
  set(cc cc)
endif()
find_program(PKG_CONFIG NAMES pkg-config pkgconf)
if(NOT PKG_CONFIG)
  message(FATAL_ERROR "check_install: pkg-config not found")
endif()
find_program(READELF readelf)
find_program(NM nm)

# Fail if the binary depends on libweft.so (expect_shared false) or does not.
function(check_weft_needed binary expect_shared)
  if(NOT READELF)
    return()
  endif()
  run("readelf ${binary}" ${READELF} -d ${binary})
  string(FIND "${run_output}" "[libweft.so" pos)
  if(expect_shared AND pos EQUAL -1)
    message(FATAL_ERROR "check_install: ${binary} does not link libweft.so")
  elseif(NOT expect_shared AND NOT pos EQUAL -1)
    message(FATAL_ERROR "check_install: ${binary} links libweft.so, want the static library")
  endif()
endfunction()

# ---- stage the install -------------------------------------------------------
run("cmake --install" ${CMAKE_COMMAND} --install ${WEFT_BINARY_DIR} --prefix ${prefix})

file(GLOB_RECURSE pc_files ${prefix}/weft.pc)
list(LENGTH pc_files n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "check_install: want one installed weft.pc, found ${n}: ${pc_files}")
endif()
get_filename_component(pc_dir ${pc_files} DIRECTORY)
get_filename_component(libdir ${pc_dir} DIRECTORY) # lib or lib/<multiarch>
foreach(f ${prefix}/include/weft.h ${libdir}/libweft.so ${libdir}/libweft.a
    ${libdir}/cmake/weft/weftConfig.cmake ${libdir}/cmake/weft/weftConfigVersion.cmake)
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "check_install: ${f} was not installed")
  endif()
endforeach()

# The shared library exports the public API only (internals are weft__*),
# plus the seven symbols weft.h's inline spawn/sync/sync_take use.
if(NM)
  run("nm libweft.so" ${NM} -D --defined-only ${libdir}/libweft.so)
  string(REGEX REPLACE "[ \t]weft__(spawn_slow|sync_slow|sync_take_slow|no_lazy|task_failed|task_status_of)\n" "\n" exported "${run_output}")
  if(exported MATCHES "[ \t](weft__[A-Za-z0-9_]*)")
    message(FATAL_ERROR "check_install: libweft.so exports internal symbol ${CMAKE_MATCH_1}")
  endif()
  if(NOT run_output MATCHES "[ \t]weft_pool_create\n")
    message(FATAL_ERROR "check_install: libweft.so does not export weft_pool_create")
  endif()
endif()

# ---- find_package(weft CONFIG): shared and static -----------------------------
foreach(kind shared static)
  set(bdir ${work}/cmake-${kind})
  if(kind STREQUAL "static")
    set(static ON)
    set(shared FALSE)
  else()
    set(static OFF)
    set(shared TRUE)
  endif()
  run("configure consumer (${kind})" ${CMAKE_COMMAND} -S ${consumer_src} -B ${bdir}
    -DCMAKE_C_COMPILER=${cc} -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DWEFT_CONSUMER_STATIC=${static})
  # The package must come from the staging prefix, not from the system.
  file(STRINGS ${bdir}/CMakeCache.txt weft_dir_line REGEX "^weft_DIR:")
  string(REGEX REPLACE "^[^=]*=" "" weft_dir "${weft_dir_line}")
  file(REAL_PATH "${weft_dir}" weft_dir)
  file(REAL_PATH "${prefix}" real_prefix)
  string(FIND "${weft_dir}" "${real_prefix}/" pos)
  if(NOT pos EQUAL 0)
    message(FATAL_ERROR "check_install: found weft in '${weft_dir}', not under ${prefix}")
  endif()
  run("build consumer (${kind})" ${CMAKE_COMMAND} --build ${bdir})
  check_weft_needed(${bdir}/consumer ${shared})
  run("run consumer (${kind})" ${bdir}/consumer)
endforeach()

# ---- pkg-config ---------------------------------------------------------------
# weft.pc derives its prefix from its own location (${pcfiledir}), so the
# staged copy works without overriding anything.
set(pc_env ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir})
set(pc ${pc_env} ${PKG_CONFIG})

run("pkg-config --cflags --libs weft" ${pc} --cflags --libs weft)
separate_arguments(flags UNIX_COMMAND "${run_output}")
run("compile consumer (pkg-config)" ${cc} ${consumer_src}/main.c -o ${work}/pc-shared ${flags})
check_weft_needed(${work}/pc-shared TRUE)
run("run consumer (pkg-config)" ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir}
  ${work}/pc-shared)

run("pkg-config --static --cflags --libs weft" ${pc} --static --cflags --libs weft)
separate_arguments(flags UNIX_COMMAND "${run_output}")
# Take libweft.a even though libweft.so sits next to it; every other flag
# as pkg-config gives it: each library it lists must be there to link.
# (weft.pc names hwloc in Libs.private rather than Requires.private, so that
# --static does not pull in hwloc's own private libraries, such as -ludev,
# which only a static libhwloc needs and Debian does not install with it.)
set(static_flags "")
foreach(f ${flags})
  if(f STREQUAL "-lweft")
    set(f "-l:libweft.a")
  endif()
  list(APPEND static_flags ${f})
endforeach()
run("compile consumer (pkg-config --static)" ${cc} ${consumer_src}/main.c -o ${work}/pc-static
  ${static_flags})
check_weft_needed(${work}/pc-static FALSE)
run("run consumer (pkg-config --static)" ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir}
  ${work}/pc-static)

message(STATUS "check_install: all consumers passed")
