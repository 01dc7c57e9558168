# The daemon integration test: the real `ferryd serve` on a free loopback port with a temporary repository, every
# endpoint and error class over HTTP (tests/daemon/daemon_test.py). include()d from tests/CMakeLists.txt.
# Needs /usr/bin/python3 with python3-onnx (it writes the test models); exits 77 (skipped) without it. The digits
# oracle part also uses node + onnxruntime-node (tests/oracle) and skips just that part without them.
if(TARGET ferryd)
  add_test(NAME daemon
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/daemon_test.py --ferryd $<TARGET_FILE:ferryd>
                   --source-dir ${CMAKE_SOURCE_DIR})
  # Starts daemons that use both cores (the hot-swap and shutdown tests time real inference): run it alone.
  set_tests_properties(daemon PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE LABELS "daemon")
endif()
# The HTTP layer under hostile traffic (tests/daemon/test_http.py): raw-socket cases, floods with the daemon's
# peak memory, descriptor exhaustion. Floods push a few hundred MB over loopback: run it alone too.
if(TARGET ferryd)
  add_test(NAME http_robustness
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/daemon_test.py --ferryd $<TARGET_FILE:ferryd>
                   --source-dir ${CMAKE_SOURCE_DIR} --modules test_http,test_security,test_limits,test_model_bombs)
  set_tests_properties(http_robustness PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE LABELS "daemon")
endif()
# HTTPS (tests/daemon/test_tls.py): a CA and certificates made with the openssl command, client certificates,
# SIGHUP reloads. Skips without the openssl command.
if(TARGET ferryd)
  add_test(NAME https
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/daemon_test.py --ferryd $<TARGET_FILE:ferryd>
                   --source-dir ${CMAKE_SOURCE_DIR} --modules test_tls)
  set_tests_properties(https PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "daemon")
endif()
# The daemon suite once more on tests/fakes/ferryd-sim, whose models run on a simulated device (their default
# instances go to it): about half the ops there, the rest on the CPU, with copies both ways and a delay on every
# stream item, so the serving path is proven with placement, copies, streams and device memory in the way.
if(TARGET ferryd-sim)
  add_test(NAME daemon_sim
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/daemon_test.py --ferryd $<TARGET_FILE:ferryd-sim>
                   --source-dir ${CMAKE_SOURCE_DIR} --gpus sim:0)
  set_tests_properties(daemon_sim PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE LABELS "daemon"
                       ENVIRONMENT "FERRY_SIM_OPS=split;FERRY_SIM_DELAY_US=20")
endif()
