# tests/docs_snippets.cmake: the documentation's code is compiled and run, and the pages show
# exactly that code (included by tests/CMakeLists.txt).
#
#   docs.pages                 every code block marked <!-- snippet: FILE#TAG --> in the pages
#                              below equals its region of FILE, and no C++ block is unmarked
#                              (tests/docs/check_pages.cpp)
#   docs.<snippet>             each docs/snippets/ program builds and runs
#   docs.architecture          (tests/CMakeLists.txt) docs/snippets/architecture.cpp
set(docs_snippets ${PROJECT_SOURCE_DIR}/docs/snippets)

add_executable(strata_docs_check_pages ${CMAKE_CURRENT_LIST_DIR}/docs/check_pages.cpp)
target_compile_features(strata_docs_check_pages PRIVATE cxx_std_20)
add_test(NAME docs.pages
  COMMAND strata_docs_check_pages ${PROJECT_SOURCE_DIR}
          README.md docs/getting-started.md docs/architecture-as-a-type.md docs/layers.md
          docs/adding-a-layer.md docs/data-formats.md docs/backends.md docs/cuda-backend.md
          docs/parity-and-speed.md)

# strata_docs_snippet(NAME SOURCE [LIBRARIES...]): build SOURCE as strata_docs_NAME, test docs.NAME.
function(strata_docs_snippet name source)
  add_executable(strata_docs_${name} ${docs_snippets}/${source})
  target_link_libraries(strata_docs_${name} PRIVATE strata::strata ${ARGN})
  add_test(NAME docs.${name} COMMAND strata_docs_${name})
endfunction()

strata_docs_snippet(readme readme.cpp)
strata_docs_snippet(getting_started getting_started.cpp)
strata_docs_snippet(layers layers.cpp)
strata_docs_snippet(backends backends.cpp)
strata_docs_snippet(channel_scale channel_scale_test.cpp doctest::doctest)
target_include_directories(strata_docs_channel_scale PRIVATE ${CMAKE_CURRENT_LIST_DIR})  # support/gradient_check.hpp
set_tests_properties(docs.channel_scale PROPERTIES PASS_REGULAR_EXPRESSION "Status: SUCCESS")
if(TARGET strata::images)
  strata_docs_snippet(data_formats data_formats.cpp strata::images)
endif()

# The CUDA snippets compile wherever strata::cuda is; they run on a GPU and otherwise say so.
if(TARGET strata::cuda)
  foreach(cuda_snippet backends_cuda channel_scale_cuda)
    strata_docs_snippet(${cuda_snippet} ${cuda_snippet}.cu strata::cuda)
    target_compile_options(strata_docs_${cuda_snippet} PRIVATE --expt-relaxed-constexpr -diag-suppress=20012)
    set_tests_properties(docs.${cuda_snippet} PROPERTIES SKIP_REGULAR_EXPRESSION "skipped, no GPU")
  endforeach()
endif()
