# lenet5_embed_text(FILE VARIABLE DELIMITER TEMPLATE OUTPUT): a text file (a page, a style sheet) turned into a
# C++ raw string at configure time, and again whenever the file changes. TEMPLATE uses @VARIABLE@ inside
# R"DELIMITER(...)DELIMITER"; a file that holds the closing delimiter is refused rather than cut short.
function(lenet5_embed_text file variable delimiter template output)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${file})
  file(READ ${file} content)
  if(content MATCHES "\\)${delimiter}\"")
    message(FATAL_ERROR "${file} holds the raw string's delimiter )${delimiter}\"")
  endif()
  set(${variable} "${content}")
  configure_file(${template} ${output} @ONLY)
endfunction()
