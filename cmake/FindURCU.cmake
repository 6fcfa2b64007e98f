# Finds liburcu (memb flavor and the cds data structures, e.g. wfcqueue).
# Defines the imported targets URCU::memb and URCU::cds.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(PC_URCU_MEMB QUIET IMPORTED_TARGET liburcu-memb)
  pkg_check_modules(PC_URCU_CDS QUIET IMPORTED_TARGET liburcu-cds)
endif()
find_path(URCU_INCLUDE_DIR urcu/urcu-memb.h HINTS ${PC_URCU_MEMB_INCLUDE_DIRS})
find_library(URCU_MEMB_LIBRARY urcu-memb HINTS ${PC_URCU_MEMB_LIBRARY_DIRS})
find_library(URCU_COMMON_LIBRARY urcu-common HINTS ${PC_URCU_MEMB_LIBRARY_DIRS})
find_library(URCU_CDS_LIBRARY urcu-cds HINTS ${PC_URCU_CDS_LIBRARY_DIRS})
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(URCU REQUIRED_VARS URCU_INCLUDE_DIR URCU_MEMB_LIBRARY
  URCU_COMMON_LIBRARY URCU_CDS_LIBRARY)
if(URCU_FOUND AND NOT TARGET URCU::memb)
  add_library(URCU::common UNKNOWN IMPORTED)
  set_target_properties(URCU::common PROPERTIES IMPORTED_LOCATION ${URCU_COMMON_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${URCU_INCLUDE_DIR})
  # -lurcu-common must come after -lurcu-memb for static links.
  add_library(URCU::memb UNKNOWN IMPORTED)
  set_target_properties(URCU::memb PROPERTIES IMPORTED_LOCATION ${URCU_MEMB_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${URCU_INCLUDE_DIR} INTERFACE_LINK_LIBRARIES URCU::common)
  add_library(URCU::cds UNKNOWN IMPORTED)
  set_target_properties(URCU::cds PROPERTIES IMPORTED_LOCATION ${URCU_CDS_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${URCU_INCLUDE_DIR} INTERFACE_LINK_LIBRARIES URCU::common)
endif()
mark_as_advanced(URCU_INCLUDE_DIR URCU_MEMB_LIBRARY URCU_COMMON_LIBRARY URCU_CDS_LIBRARY)
