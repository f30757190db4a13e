# Runs promtool on the deploy files for ctest (tests/CMakeLists.txt, deploy_promtool_*).
#   cmake -DPROMTOOL=<path> -DSOURCE_DIR=<repo> -DMODE=check|test -P run_promtool.cmake
# A missing promtool is a failure, not a skip: CI installs it (Debian package `prometheus`), and a
# skipped check would let a broken alert file through unnoticed.

if(NOT PROMTOOL OR NOT EXISTS "${PROMTOOL}")
  message(FATAL_ERROR "promtool not found (PROMTOOL='${PROMTOOL}'): install the Debian package "
                      "'prometheus' (scripts/install-deps.sh test) and re-run cmake")
endif()

function(promtool)
  execute_process(COMMAND "${PROMTOOL}" ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " shown "${ARGN}")
    message(FATAL_ERROR "promtool ${shown}: failed (${rc})")
  endif()
endfunction()

if(MODE STREQUAL "check")
  # check config resolves rule_files relative to prometheus.yml, so it checks alerts.yml too;
  # check rules runs on its own as well, so a broken rule file is named on its own line.
  promtool(check config "${SOURCE_DIR}/deploy/prometheus/prometheus.yml")
  promtool(check rules "${SOURCE_DIR}/deploy/prometheus/alerts.yml")
elseif(MODE STREQUAL "test")
  # rule_files inside alerts_test.yml are resolved relative to that file.
  promtool(test rules "${SOURCE_DIR}/tests/deploy/alerts_test.yml")
else()
  message(FATAL_ERROR "MODE must be check or test, not '${MODE}'")
endif()
