function(weft_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wno-unused-parameter $<$<BOOL:${WEFT_WERROR}>:-Werror>)
endfunction()
