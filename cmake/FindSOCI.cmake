# FindSOCI: Debian's libsoci-dev ships neither a CMake package nor a pkg-config file.
#
# Usage: find_package(SOCI REQUIRED COMPONENTS sqlite3 [postgresql] [mysql])
# Defines imported targets SOCI::core and SOCI::<component> for each component found,
# and SOCI_FOUND / SOCI_<component>_FOUND. SOCI's headers include Boost headers, which
# must be installed too (Debian: libboost-dev).

find_path(SOCI_INCLUDE_DIR NAMES soci/soci.h)
find_library(SOCI_CORE_LIBRARY NAMES soci_core)

if(SOCI_INCLUDE_DIR AND SOCI_CORE_LIBRARY AND NOT TARGET SOCI::core)
  add_library(SOCI::core UNKNOWN IMPORTED)
  set_target_properties(SOCI::core PROPERTIES
    IMPORTED_LOCATION "${SOCI_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SOCI_INCLUDE_DIR}")
  find_package(Threads)
  set_property(TARGET SOCI::core APPEND PROPERTY INTERFACE_LINK_LIBRARIES
    Threads::Threads ${CMAKE_DL_LIBS})
endif()

foreach(_soci_component IN LISTS SOCI_FIND_COMPONENTS)
  find_library(SOCI_${_soci_component}_LIBRARY NAMES soci_${_soci_component})
  set(_soci_deps_ok TRUE)
  set(_soci_deps "")
  if(_soci_component STREQUAL "sqlite3")
    find_package(SQLite3 QUIET)
    if(SQLite3_FOUND)
      set(_soci_deps SQLite::SQLite3)
    else()
      set(_soci_deps_ok FALSE)
    endif()
  elseif(_soci_component STREQUAL "postgresql")
    find_package(PostgreSQL QUIET)
    if(PostgreSQL_FOUND)
      set(_soci_deps PostgreSQL::PostgreSQL)
    else()
      set(_soci_deps_ok FALSE)
    endif()
  elseif(_soci_component STREQUAL "mysql")
    find_path(SOCI_MARIADB_INCLUDE_DIR NAMES mysql.h PATH_SUFFIXES mariadb mysql)
    find_library(SOCI_MARIADB_LIBRARY NAMES mariadb mysqlclient)
    if(SOCI_MARIADB_INCLUDE_DIR AND SOCI_MARIADB_LIBRARY)
      set(_soci_deps "${SOCI_MARIADB_LIBRARY}")
    else()
      set(_soci_deps_ok FALSE)
    endif()
  endif()
  if(SOCI_${_soci_component}_LIBRARY AND _soci_deps_ok AND TARGET SOCI::core)
    set(SOCI_${_soci_component}_FOUND TRUE)
    if(NOT TARGET SOCI::${_soci_component})
      add_library(SOCI::${_soci_component} UNKNOWN IMPORTED)
      set_target_properties(SOCI::${_soci_component} PROPERTIES
        IMPORTED_LOCATION "${SOCI_${_soci_component}_LIBRARY}"
        INTERFACE_LINK_LIBRARIES "SOCI::core;${_soci_deps}")
      if(_soci_component STREQUAL "mysql")
        set_property(TARGET SOCI::mysql APPEND PROPERTY
          INTERFACE_INCLUDE_DIRECTORIES "${SOCI_MARIADB_INCLUDE_DIR}")
      endif()
    endif()
  else()
    set(SOCI_${_soci_component}_FOUND FALSE)
  endif()
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SOCI
  REQUIRED_VARS SOCI_CORE_LIBRARY SOCI_INCLUDE_DIR
  HANDLE_COMPONENTS)
mark_as_advanced(SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY)
