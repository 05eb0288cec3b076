# Generates the protocol message types from src/protocol/schemas/*.schema into
# the build directory (see src/protocol/codegen.py). Included by the root
# CMakeLists.txt; sets RUNNEL_GENERATED_SRC and RUNNEL_GENERATED_INCLUDE.
find_package(Python3 REQUIRED COMPONENTS Interpreter)

set(_proto_dir ${CMAKE_CURRENT_LIST_DIR})
set(_gen_dir ${CMAKE_BINARY_DIR}/generated)
file(GLOB _schemas CONFIGURE_DEPENDS ${_proto_dir}/schemas/*.schema)

set(_gen_outputs ${_gen_dir}/protocol/messages.h ${_gen_dir}/protocol/messages_testing.h ${_gen_dir}/api_table.cc)
set(RUNNEL_GENERATED_SRC ${_gen_dir}/api_table.cc)
foreach(_schema ${_schemas})
  get_filename_component(_api ${_schema} NAME_WE)
  # codegen.py names each .cc after the API in snake_case (CreateTopics -> create_topics.cc).
  string(REGEX REPLACE "([a-z0-9])([A-Z])" "\\1_\\2" _snake ${_api})
  string(TOLOWER ${_snake} _snake)
  list(APPEND RUNNEL_GENERATED_SRC ${_gen_dir}/${_snake}.cc)
  list(APPEND _gen_outputs ${_gen_dir}/${_snake}.cc)
endforeach()

add_custom_command(
  OUTPUT ${_gen_outputs}
  COMMAND ${Python3_EXECUTABLE} ${_proto_dir}/codegen.py ${_proto_dir}/schemas ${_gen_dir}
  DEPENDS ${_proto_dir}/codegen.py ${_schemas}
  COMMENT "Generating protocol messages from src/protocol/schemas"
  VERBATIM)

set(RUNNEL_GENERATED_INCLUDE ${_gen_dir})
