# tests/consumer/consumer_tests.cmake: strata used from outside, as a user's project uses it
# (included by tests/CMakeLists.txt).
#
# The consumer project next to this file is configured, built and run three ways:
#   consumer.find_package       find_package(strata CONFIG REQUIRED) on a `cmake --install` prefix
#   consumer.add_subdirectory   add_subdirectory(<strata checkout>)
#   consumer.fetchcontent       FetchContent from the local checkout (no network)
# and find_package's components are checked without building:
#   consumer.optional_cuda          OPTIONAL_COMPONENTS cuda: found exactly when this build has strata::cuda
#   consumer.cuda_absent            COMPONENTS cuda on a CPU-only install: fails, saying why
#   consumer.optional_cuda_absent   OPTIONAL_COMPONENTS cuda on a CPU-only install: configures, says why not
#   consumer.unknown_component      COMPONENTS nosuch: fails, naming the known components
set(consumer_source ${CMAKE_CURRENT_LIST_DIR})
set(consumer_binary ${CMAKE_CURRENT_BINARY_DIR}/consumer)
set(consumer_prefix ${consumer_binary}/prefix)
set(consumer_cpu_prefix ${consumer_binary}/prefix-cpu-only)
set(consumer_common -DCXX_COMPILER=${CMAKE_CXX_COMPILER} -DLAUNCHER=${CMAKE_CXX_COMPILER_LAUNCHER}
                    -DSTRATA_SOURCE_DIR=${PROJECT_SOURCE_DIR})

add_test(NAME consumer.install
  COMMAND ${CMAKE_COMMAND} -DBUILD=${PROJECT_BINARY_DIR} -DPREFIX=${consumer_prefix} -P ${consumer_source}/install.cmake)
set_tests_properties(consumer.install PROPERTIES FIXTURES_SETUP strata_prefix)
add_test(NAME consumer.install_cpu_only
  COMMAND ${CMAKE_COMMAND} -DSOURCE=${PROJECT_SOURCE_DIR} -DBUILD=${consumer_binary}/strata-cpu-only
          -DPREFIX=${consumer_cpu_prefix} -P ${consumer_source}/install.cmake)
set_tests_properties(consumer.install_cpu_only PROPERTIES FIXTURES_SETUP strata_cpu_prefix)

# strata_consumer_test(NAME MODE [FIXTURE] [ARGS -Dvar=value...])
function(strata_consumer_test name mode fixture)
  add_test(NAME consumer.${name}
    COMMAND ${CMAKE_COMMAND} -DMODE=${mode} -DBINARY_DIR=${consumer_binary}/${name} ${consumer_common} ${ARGN}
            -P ${consumer_source}/run.cmake)
  set_tests_properties(consumer.${name} PROPERTIES TIMEOUT 300)
  if(fixture)
    set_tests_properties(consumer.${name} PROPERTIES FIXTURES_REQUIRED ${fixture})
  endif()
endfunction()

strata_consumer_test(find_package find_package strata_prefix -DPREFIX=${consumer_prefix})
strata_consumer_test(add_subdirectory add_subdirectory "")
strata_consumer_test(fetchcontent fetchcontent "")

if(TARGET strata::cuda)
  set(cuda_expect "consumer: strata::cuda found")
else()
  set(cuda_expect "strata: optional component cuda not found: .*consumer: strata::cuda not found")
endif()
strata_consumer_test(optional_cuda find_package strata_prefix -DPREFIX=${consumer_prefix}
  -DCONFIGURE_ONLY=ON -DOPTIONAL_COMPONENTS=cuda "-DEXPECT=${cuda_expect}")
strata_consumer_test(cuda_absent find_package strata_cpu_prefix -DPREFIX=${consumer_cpu_prefix}
  -DCONFIGURE_ONLY=ON -DCOMPONENTS=cuda -DEXPECT_FAIL=ON "-DEXPECT=installed without the CUDA backend")
strata_consumer_test(optional_cuda_absent find_package strata_cpu_prefix -DPREFIX=${consumer_cpu_prefix}
  -DCONFIGURE_ONLY=ON -DOPTIONAL_COMPONENTS=cuda
  "-DEXPECT=optional component cuda not found: strata at .* was installed without the CUDA backend")
strata_consumer_test(unknown_component find_package strata_prefix -DPREFIX=${consumer_prefix}
  -DCONFIGURE_ONLY=ON -DCOMPONENTS=nosuch -DEXPECT_FAIL=ON
  "-DEXPECT=unknown component 'nosuch' \\(strata's components are: cuda, images\\)")
