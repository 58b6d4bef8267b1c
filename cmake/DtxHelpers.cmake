# Helpers so that adding a file or a test touches one place.

# Warnings for dtx's own code. A dropped absl::Status does not compile. Options structs
# are filled with designated initializers that name only what differs from the
# defaults ({.threads = 2}); GCC 12 warns of every member left out, so that is off.
function(dtx_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
    -Wno-missing-field-initializers -Werror=unused-result -Werror=return-type)
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

# dtx_test(<name> SOURCES ... DEPS ...): a Catch2 test binary whose cases ctest runs,
# one entry per case. An entry whose filter matches no case fails (--warn NoTests):
# Catch reads ',' and a discovered ';' splits a name, so such a name would otherwise
# make an entry that runs nothing and passes.
function(dtx_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} dtx_test_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  dtx_warnings(${name})
  catch_discover_tests(${name} TEST_PREFIX "${name}: " EXTRA_ARGS --warn NoTests
    PROPERTIES ENVIRONMENT "DTX_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp")
endfunction()

# dtx_proto_generate(<sources_var> <include_dir_var> PROTOS a.proto ... [GRPC]):
# generates C++ for the messages (and with GRPC, the services) of the .proto files
# into the current binary dir; sets the two variables to the sources and their
# include directory (generated headers are included by file name: "a.pb.h").
function(dtx_proto_generate sources_var include_var)
  cmake_parse_arguments(ARG "GRPC" "" "PROTOS" ${ARGN})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/proto_gen)
  file(MAKE_DIRECTORY ${out})
  set(sources "")
  foreach(proto IN LISTS ARG_PROTOS)
    get_filename_component(abs ${proto} ABSOLUTE)
    get_filename_component(dir ${abs} DIRECTORY)
    get_filename_component(name ${abs} NAME_WE)
    set(outputs ${out}/${name}.pb.cc ${out}/${name}.pb.h)
    set(args --cpp_out=${out})
    if(ARG_GRPC)
      list(APPEND outputs ${out}/${name}.grpc.pb.cc ${out}/${name}.grpc.pb.h)
      list(APPEND args --grpc_out=${out}
        --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
    endif()
    add_custom_command(OUTPUT ${outputs}
      COMMAND protobuf::protoc -I ${dir} ${args} ${abs}
      DEPENDS ${abs} VERBATIM)
    list(APPEND sources ${out}/${name}.pb.cc)
    if(ARG_GRPC)
      list(APPEND sources ${out}/${name}.grpc.pb.cc)
    endif()
  endforeach()
  set(${sources_var} ${sources} PARENT_SCOPE)
  set(${include_var} ${out} PARENT_SCOPE)
endfunction()

# dtx_proto_library(<target> PROTOS a.proto ... [GRPC]): a static library of the code
# dtx_proto_generate makes.
function(dtx_proto_library target)
  cmake_parse_arguments(ARG "GRPC" "" "PROTOS" ${ARGN})
  set(grpc_flag "")
  if(ARG_GRPC)
    set(grpc_flag GRPC)
  endif()
  dtx_proto_generate(sources include_dir PROTOS ${ARG_PROTOS} ${grpc_flag})
  add_library(${target} STATIC ${sources})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${include_dir}>)
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf)
  if(ARG_GRPC)
    target_link_libraries(${target} PUBLIC gRPC::grpc++)
  endif()
endfunction()

# dtx_backend_tests(<target>): runs <target> once per database backend (sqlite,
# postgresql, mysql) as ctest <target-without-_test>_<backend>, the backend named in
# DTX_CONFORMANCE_BACKEND (see tests/conformance_main.cc: exit 77 is a skip). Runs on
# one backend take turns: they share its database.
function(dtx_backend_tests target)
  string(REGEX REPLACE "_test$" "" base ${target})
  foreach(backend sqlite postgresql mysql)
    add_test(NAME ${base}_${backend} COMMAND ${target})
    set_tests_properties(${base}_${backend} PROPERTIES
      ENVIRONMENT "DTX_CONFORMANCE_BACKEND=${backend};DTX_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp"
      SKIP_RETURN_CODE 77 TIMEOUT 600 RESOURCE_LOCK database_${backend})
  endforeach()
endfunction()
