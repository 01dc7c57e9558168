# The oracle test: ferryd against onnxruntime on hand-built models (see tests/oracle/oracle_test.sh).
# include()d from tests/CMakeLists.txt; needs the ferryd target, node + npm (it installs onnxruntime-node into
# tests/oracle/node_modules on first use) and /usr/bin/python3 with python3-onnx. Skips (exit 77) without them.
if(TARGET ferryd)
  add_test(NAME oracle
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/oracle_test.sh $<TARGET_FILE:ferryd>
           WORKING_DIRECTORY ${CMAKE_CURRENT_LIST_DIR})
  set_tests_properties(oracle PROPERTIES TIMEOUT 900 SKIP_RETURN_CODE 77 LABELS "oracle")
endif()
