# carelog_library(<name> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# One library per top-level folder, aliased carelog::<name>, public headers in include/carelog/<name>/
# (the Redpanda v_library pattern).
function(carelog_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(carelog_${name} STATIC ${ARG_SOURCES})
  add_library(carelog::${name} ALIAS carelog_${name})
  target_include_directories(carelog_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(carelog_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()
