# tests/consumer/install.cmake: install strata into a prefix for the consumer tests (cmake -P).
#
#   -DBUILD=<strata build folder> -DPREFIX=<prefix>   cmake --install BUILD --prefix PREFIX
#   -DSOURCE=<strata checkout>                         first configure SOURCE into BUILD without
#                                                      the CUDA backend (a CPU-only install)
cmake_minimum_required(VERSION 3.25)
if(SOURCE)
  execute_process(COMMAND ${CMAKE_COMMAND} -S "${SOURCE}" -B "${BUILD}" -DSTRATA_ENABLE_CUDA=OFF
                          -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_EXAMPLES=OFF -DSTRATA_BUILD_BENCHMARKS=OFF
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer: configuring a CPU-only strata in ${BUILD} failed")
  endif()
endif()
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND ${CMAKE_COMMAND} --install "${BUILD}" --prefix "${PREFIX}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "consumer: cmake --install ${BUILD} --prefix ${PREFIX} failed")
endif()
