# cmake -DREADME=README.md -DSOURCE=file.cc -P CheckReadmeExample.cmake
# Fails unless README holds SOURCE's text verbatim inside a ```cpp block.
file(READ "${README}" readme)
file(READ "${SOURCE}" source)
string(FIND "${readme}" "```cpp\n${source}```" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${README} does not quote ${SOURCE} verbatim in a ```cpp block")
endif()
