# Runs one libFuzzer target for a bounded time on a build-dir copy of its seed
# corpus (the fuzzer adds the inputs it finds to that copy, never to the
# source tree). cmake -DFUZZER= -DCORPUS= -DWORK= -DSECONDS= [-DDICT=] -P run_fuzzer.cmake
file(MAKE_DIRECTORY ${WORK}/corpus ${WORK}/artifacts)
file(COPY ${CORPUS}/ DESTINATION ${WORK}/corpus)
set(args -max_total_time=${SECONDS} -rss_limit_mb=2048 -timeout=10
  -artifact_prefix=${WORK}/artifacts/)
if(DICT)
  list(APPEND args -dict=${DICT})
endif()
message(STATUS "${FUZZER} ${args} ${WORK}/corpus")
execute_process(COMMAND ${FUZZER} ${args} ${WORK}/corpus RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${FUZZER} failed (${rc}); the input that failed is in ${WORK}/artifacts/")
endif()
