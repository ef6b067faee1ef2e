-- Configuration files hcdl parses have a size limit and (YAML) a nesting
-- limit checked before the parser sees them (lua/hcdl/configfile.lua):
-- over them hcdl.new refuses with an "input" error naming the file.  How
-- long hcdl.new takes at and past the limits is measured by bench/config,
-- not here.
local hcdl = require "hcdl"
local configfile = require "hcdl.configfile"
local temporary = require "hcdl.credentials.temporary"
local shell = require "tests.support.shell"

describe("configuration limits", function()
  local dir
  setup(function()
    dir = shell.mktemp_dir()
  end)
  teardown(function() shell.remove(dir) end)

  -- name in dir, holding text: its path
  local function write(name, text)
    local path = dir .. "/" .. name
    shell.write(path, text)
    return path
  end

  local function new(over)
    local cfg = { region = "cn-north-4", ak = "AK", sk = "SK", project_id = ("0"):rep(32) }
    for k, v in pairs(over) do cfg[k] = v end
    return hcdl.new(cfg)
  end

  local function refused(over, path, pattern)
    local client, err = new(over)
    assert.is_nil(client)
    assert.are.equal("input", err.kind)
    assert.matches(path, err.message, 1, true)
    assert.matches(pattern, err.message, 1, true)
    assert.are.equal(1, select(2, tostring(err):gsub("\n", "")) + 1)
  end

  it("refuses a regions file over its size limit, naming it", function()
    local path = write("big.yaml", "RDS:\n" .. ("# filler\n"):rep(configfile.MAX_BYTES.regions / 8))
    refused({ regions_file = path }, path, ("larger than %d bytes"):format(configfile.MAX_BYTES.regions))
  end)

  it("refuses a regions file nested past the limit before parsing it", function()
    local deep = configfile.YAML_MAX_DEPTH + 1
    for i, text in ipairs{
      "RDS: " .. ("["):rep(deep) .. ("]"):rep(deep) .. "\n",
      "RDS: " .. ("{a: "):rep(deep) .. "1" .. ("}"):rep(deep) .. "\n",
      "RDS:\n" .. ("- "):rep(deep) .. "x\n",
      "RDS:\n" .. (" "):rep(configfile.YAML_MAX_INDENT + 1) .. "- id: x\n",
      -- closing brackets hidden in quotes do not lower the count
      "RDS: " .. ('["]", '):rep(deep) .. "x" .. ("]"):rep(deep) .. "\n",
    } do
      local path = write("deep" .. i .. ".yaml", text)
      refused({ regions_file = path }, path, "nested deeper")
    end
  end)

  it("accepts brackets and quotes within the limits", function()
    local path = write("ok.yaml", "# a comment with [[[[ brackets\nRDS: [{id: cn-north-4, endpoint: "
      .. "\"https://rds.example.com\"}, {id: \"x[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[y\", "
      .. "endpoint: 'https://b.example.com'}]\n")
    local client, err = new{ regions_file = path }
    assert.is_table(client, tostring(err))
    local rds = client.endpoints.rds
    assert.are.equal("https://rds.example.com", type(rds) == "table" and rds[1] or rds)
  end)

  it("refuses a credentials profile over its size limit, naming it", function()
    local path = write("credentials", "[basic]\nak = A\nsk = B\n" .. ("# filler\n"):rep(configfile.MAX_BYTES.profile / 8))
    refused({ credentials_file = path }, path, ("larger than %d bytes"):format(configfile.MAX_BYTES.profile))
  end)

  it("refuses a token file over its size limit as an input error naming it", function()
    local path = write("token", ("t"):rep(configfile.MAX_BYTES.token + 1))
    local token, err = temporary.read_token_file(path, "OIDC federation")
    assert.is_nil(token)
    assert.are.equal("input", err.kind)
    assert.matches(path, err.message, 1, true)
    assert.matches("larger than", err.message, 1, true)
    local small = write("token2", " abc.def.ghi \n")
    assert.are.equal("abc.def.ghi", temporary.read_token_file(small, "OIDC federation"))
  end)
end)
