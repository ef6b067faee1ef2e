-- busted output handler: busted's plain terminal output, then one closing
-- line "N passed, N failed" (errors count as failed) that CI and people read.
return function(options)
  local busted = require 'busted'
  local handler = require 'busted.outputHandlers.plainTerminal'(options)
  busted.subscribe({ 'suite', 'end' }, function()
    io.write(string.format('%d passed, %d failed\n', handler.successesCount,
      handler.failuresCount + handler.errorsCount))
    io.flush()
    return nil, true
  end)
  return handler
end
