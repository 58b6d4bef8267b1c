# Helpers so that adding a file or a test touches one place.

# Warnings for dtx's own code. A dropped absl::Status does not compile.
function(dtx_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
    -Werror=unused-result -Werror=return-type)
endfunction()

# dtx_library(NAME <target> EXPORT_NAME <name> SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...)
# Defines the library, its alias dtx::<name>, and installs it into the export set.
function(dtx_library)
  cmake_parse_arguments(ARG "" "NAME;EXPORT_NAME" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${ARG_NAME} ${ARG_SOURCES})
  add_library(dtx::${ARG_EXPORT_NAME} ALIAS ${ARG_NAME})
  set_target_properties(${ARG_NAME} PROPERTIES EXPORT_NAME ${ARG_EXPORT_NAME}
    POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${ARG_NAME}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_BINARY_DIR}/src)
  target_compile_features(${ARG_NAME} PUBLIC cxx_std_20)
  target_link_libraries(${ARG_NAME} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  dtx_warnings(${ARG_NAME})
  install(TARGETS ${ARG_NAME} EXPORT dtxTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()

# dtx_test(<name> SOURCES ... DEPS ...): a Catch2 test binary whose cases ctest runs.
function(dtx_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} dtx_test_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  dtx_warnings(${name})
  catch_discover_tests(${name} TEST_PREFIX "${name}: "
    PROPERTIES ENVIRONMENT "DTX_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp")
endfunction()
