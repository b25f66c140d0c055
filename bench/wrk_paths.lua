-- wrk script: cycle through the request paths listed one per line in the file given after `--`.
-- Each wrk thread starts at a different offset, so the threads do not ask for the same notice at once.

local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

local paths = {}
local position = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      paths[#paths + 1] = line
    end
  end
  if #paths == 0 then
    error("no paths in " .. tostring(args[1]))
  end
  position = ((thread_number or 1) - 1) * math.floor(#paths / 4) % #paths
end

function request()
  position = position % #paths + 1
  return wrk.format("GET", paths[position])
end
