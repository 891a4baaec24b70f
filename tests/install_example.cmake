# ctest's "package.example": installs the built project into a scratch prefix, builds
# examples/train-synthetic against it with find_package(harnet), and runs the example (it
# trains a small model, saves a checkpoint and checks that the reloaded model agrees).
# Arguments: -DBUILD_DIR=<harnet build> -DSOURCE_DIR=<harnet source> -DWORK_DIR=<scratch>
file(REMOVE_RECURSE ${WORK_DIR})
foreach(step
    "${CMAKE_COMMAND};--install;${BUILD_DIR};--prefix;${WORK_DIR}/prefix"
    "${CMAKE_COMMAND};-S;${SOURCE_DIR}/examples/train-synthetic;-B;${WORK_DIR}/build;-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix"
    "${CMAKE_COMMAND};--build;${WORK_DIR}/build"
    "${WORK_DIR}/build/train-synthetic;${WORK_DIR}/example.h5")
  execute_process(COMMAND ${step} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    string(REPLACE ";" " " shown "${step}")
    message(FATAL_ERROR "package.example: '${shown}' failed (${result})")
  endif()
endforeach()
