-- The credential providers, each against the emulator: config, environment,
-- profile, ECS metadata, CCE pod identity, OIDC federation, and the chain's
-- error when every one of them fails.
local config = require "hcdl.config"
local client_mod = require "hcdl.client"
local core = require "hcdl.core"
local emulator = require "tests.support.emulator"
local clients = require "tests.support.clients"
local shell = require "tests.support.shell"

local env, write, client_for = clients.env, shell.write, clients.new

local function count(emu, api)
  return #emu:requests(api)
end

describe("credential providers", function()
  local emu, seed, dir
  setup(function()
    emu = emulator.start()
    seed = emu.seed
    dir = clients.home()
  end)
  teardown(function()
    if emu then emu:stop() end
    shell.remove(dir)
  end)
  before_each(function() emu:reset() end)

  -- every provider's keys are only worth something if an API accepts them
  local function works(c)
    local r, err = c:show_backup_download_link{ backup_id = seed.rds_backup_id }
    assert.is_nil(err)
    assert.are.equal(2, #r.files)
  end

  -- no static keys; the metadata service is the emulator unless said otherwise
  local function bare(over)
    local c = emu:config{ ak = false, sk = false, metadata_endpoint = emu.endpoint, retries = 0 }
    for k, v in pairs(over or {}) do c[k] = v end
    return c
  end

  describe("config", function()
    it("takes ak/sk with a security token (temporary keys) from the table", function()
      local tmp = emu.temporary
      local c = assert(client_for(emu:config{ ak = tmp.ak, sk = tmp.sk, security_token = tmp.security_token }))
      works(c)
      assert.matches("credentials from config", tostring(c), 1, true)
    end)
    it("federation from idp_id + id_token_file in the table", function()
      write(dir .. "/id_token", emu.identity.id_token .. "\n")
      local c = assert(client_for(bare{ idp_id = emu.identity.idp_id, id_token_file = dir .. "/id_token" }))
      works(c)
      assert.are.equal(1, count(emu, "iam_id_token"))
      assert.are.equal(1, count(emu, "iam_securitytokens"))
      assert.are.equal(0, count(emu, "metadata_securitykey"))
    end)
    it("refuses half a pair or two kinds at once, naming the option", function()
      local _, err = client_for(bare{ idp_id = "x" })
      assert.are.equal("id_token_file", err.field)
      _, err = client_for(bare{ idp_id = "x", id_token_file = "/f", ak = "A", sk = "S" })
      assert.are.equal("idp_id", err.field)
      assert.matches("not ak/sk and idp_id/id_token_file", err.message, 1, true)
      _, err = client_for(bare{ security_token = "T" })
      assert.are.equal("security_token", err.field)
    end)
  end)

  describe("environment", function()
    it("HUAWEICLOUD_SDK_AK/SK/SECURITY_TOKEN", function()
      local tmp = emu.temporary
      local c = assert(client_for(bare(), { HUAWEICLOUD_SDK_AK = tmp.ak, HUAWEICLOUD_SDK_SK = tmp.sk,
        HUAWEICLOUD_SDK_SECURITY_TOKEN = tmp.security_token }))
      works(c)
      assert.matches("environment (HUAWEICLOUD_SDK_AK)", tostring(c), 1, true)
      assert.are.equal(0, count(emu, "metadata_token"))
    end)
    it("CLOUD_SDK_AK/SK when the SDK's variables are absent or half set", function()
      local c = assert(client_for(bare(), { CLOUD_SDK_AK = emu.ak, CLOUD_SDK_SK = emu.sk, HUAWEICLOUD_SDK_AK = "half" }))
      works(c)
      assert.matches("CLOUD_SDK_AK", tostring(c), 1, true)
    end)
    it("HUAWEICLOUD_SDK_IDP_ID + HUAWEICLOUD_SDK_ID_TOKEN_FILE win over AK/SK, as in the SDK", function()
      write(dir .. "/id_token", emu.identity.id_token)
      local c = assert(client_for(bare(), { HUAWEICLOUD_SDK_IDP_ID = emu.identity.idp_id,
        HUAWEICLOUD_SDK_ID_TOKEN_FILE = dir .. "/id_token", HUAWEICLOUD_SDK_AK = "NOTUSED", HUAWEICLOUD_SDK_SK = "NOTUSED" }))
      works(c)
      assert.matches("OIDC federation (HUAWEICLOUD_SDK_IDP_ID)", tostring(c), 1, true)
      assert.are.equal(1, count(emu, "iam_securitytokens"))
    end)
  end)

  describe("profile", function()
    it("reads every key of [basic]: ak, sk, security_token, project_id, iam_endpoint", function()
      local tmp = emu.temporary
      local path = dir .. "/profile-keys"
      write(path, ("[global]\nak = G\nsk = G\n\n[basic]\nak: %s\nsk = %s\nsecurity_token = %s\nproject_id = %s\n"
        .. "iam_endpoint = %s\n"):format(tmp.ak, tmp.sk, tmp.security_token, emu.project_id, emu.endpoint))
      local cfg = emu:config{ ak = false, sk = false, project_id = false, credentials_file = path }
      cfg.project_id, cfg.endpoints.iam = nil, nil
      cfg.region = "emulator"
      local resolved = assert(config.resolve(cfg, env{}))
      assert.are.same({ emu.project_id, emu.endpoint }, { resolved.project_id, resolved.endpoints.iam })
      -- the keys (temporary: the emulator takes them only with their security token)
      local c = client_mod.new(resolved)
      assert.matches("credentials from profile [basic] (" .. path .. ")", tostring(c), 1, true)
      works(c)
    end)
    it("federation from idp_id + id_token_file in [basic], named by HUAWEICLOUD_SDK_CREDENTIALS_FILE", function()
      write(dir .. "/id_token", emu.identity.id_token)
      local path = dir .. "/profile-idp"
      write(path, ("[basic]\nidp_id = %s\nid_token_file = %s\n"):format(emu.identity.idp_id, dir .. "/id_token"))
      local c = assert(client_for(bare(), { HUAWEICLOUD_SDK_CREDENTIALS_FILE = path }))
      works(c)
      assert.matches("OIDC federation (profile " .. path .. ")", tostring(c), 1, true)
    end)
    it("says what is missing from it", function()
      local path = dir .. "/profile-empty"
      write(path, "[basic]\nproject_id = x\n")
      local _, err = client_for(bare{ metadata_endpoint = false }, { HUAWEICLOUD_SDK_CREDENTIALS_FILE = path })
      assert.matches("[basic] in " .. path .. " has neither ak and sk nor idp_id and id_token_file", err.message, 1, true)
    end)
  end)

  describe("ECS metadata", function()
    it("gets a session token, then the agency's keys, at the first call (not at hcdl.new)", function()
      local c = assert(client_for(bare()))
      assert.are.equal(0, count(emu, "metadata_token"))
      works(c)
      works(c)
      assert.are.equal(1, count(emu, "metadata_token"))
      assert.are.equal(1, count(emu, "metadata_securitykey"))
      assert.matches("credentials from ECS metadata", tostring(c), 1, true)
    end)
    for _, status in ipairs{ 404, 405, 503 } do
      it(("goes on without a session token when the token PUT answers %d, and asks again only after 24 h"):format(status), function()
        emu:ctl("POST", "/identity", { metadata_mode = "no_token", metadata_no_token_status = status })
        local c = assert(client_for(bare{ timeout = 5 }))
        works(c)
        assert.are.equal(1, count(emu, "metadata_token"))
        assert.are.equal(1, count(emu, "metadata_securitykey"))
      end)
    end
    it("on a 401 gets a new session token once and asks again", function()
      emu:ctl("POST", "/identity", { temp_key_ttl = 60 }) -- inside 40 minutes: every call refreshes
      local c = assert(client_for(bare()))
      works(c)
      emu:ctl("DELETE", "/identity/metadata-tokens")
      works(c)
      local seen = {}
      for _, r in ipairs(emu:requests()) do
        if r.api ~= "show_backup_download_link" then seen[#seen + 1] = ("%s %d"):format(r.api, r.status) end
      end
      assert.are.same({ "metadata_token 200", "metadata_securitykey 200",
        "metadata_securitykey 401", "metadata_token 200", "metadata_securitykey 200" }, seen)
    end)
    it("reports a server without an agency once, without asking again", function()
      emu:ctl("POST", "/identity", { metadata_mode = "no_agency" })
      local c = assert(client_for(bare{ retries = 2 }))
      local r, err = c:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.is_nil(r)
      assert.are.equal("auth", err.kind)
      assert.matches("no agency is bound", err.message, 1, true)
      assert.are.equal(1, count(emu, "metadata_securitykey"))
      assert.are.equal(0, count(emu, "show_backup_download_link"))
    end)
    it("gives each metadata request 3 seconds", function()
      emu:fault{ target = "metadata_securitykey", kind = "slow_first_byte", seconds = 4, count = 1 }
      local c = assert(client_for(bare{ timeout = 30 }))
      local t0 = core.now()
      local r, err = c:show_backup_download_link{ backup_id = seed.rds_backup_id }
      local took = core.now() - t0
      assert.is_nil(r)
      assert.are.equal("auth", err.kind) -- the chain's verdict: no provider gave keys
      assert.matches("ECS metadata (" .. emu.endpoint .. "): Timeout", err.message, 1, true)
      assert.is_true(took >= 2.9 and took < 3.8, ("took %.2fs"):format(took))
    end)
  end)

  describe("CCE pod identity", function()
    local function pod_env(token_path)
      return { HC_CONTAINER_CREDENTIALS_FULL_URI = emu.identity.pod_identity_url,
        HC_CONTAINER_AUTHORIZATION_TOKEN_FILE = token_path }
    end
    it("posts {} with the token file as Authorization, after metadata failed", function()
      write(dir .. "/pod_token", emu.identity.pod_token .. "\n")
      local c = assert(client_for(bare{ metadata_endpoint = "http://127.0.0.1:9" }, pod_env(dir .. "/pod_token")))
      works(c)
      assert.are.equal(1, count(emu, "pod_identity"))
      assert.matches("credentials from CCE pod identity", tostring(c), 1, true)
    end)
    it("reads the SDK's other field names (credentials, accessKeyId, ...)", function()
      emu:ctl("POST", "/identity", { pod_format = "camel" })
      write(dir .. "/pod_token", emu.identity.pod_token)
      local c = assert(client_for(bare{ metadata_endpoint = false }, pod_env(dir .. "/pod_token")))
      works(c)
    end)
    it("a wrong token is an auth error that does not show it", function()
      write(dir .. "/pod_token", "Wrong-Pod-Token-123")
      local c = assert(client_for(bare{ metadata_endpoint = false }, pod_env(dir .. "/pod_token")))
      local _, err = c:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.are.equal("auth", err.kind)
      assert.matches("CCE pod identity", err.message, 1, true)
      assert.is_nil(tostring(err):find("Wrong-Pod-Token-123", 1, true))
    end)
  end)

  describe("the chain", function()
    it("when every provider fails, says what each one found", function()
      local c = assert(client_for(bare{ metadata_endpoint = "http://127.0.0.1:9" },
        { HC_CONTAINER_CREDENTIALS_FULL_URI = "http://127.0.0.1:9/creds", HC_CONTAINER_AUTHORIZATION_TOKEN_FILE = dir .. "/none" }))
      local r, err = c:show_backup_download_link{ backup_id = seed.rds_backup_id }
      assert.is_nil(r)
      assert.are.equal("auth", err.kind)
      for _, what in ipairs{ "config: no ak/sk", "environment: HUAWEICLOUD_SDK_AK", "profile: /nonexistent",
                             "ECS metadata (http://127.0.0.1:9):", "connect", "CCE pod identity (http://127.0.0.1:9/creds):",
                             "cannot be read" } do
        assert.matches(what, err.message, 1, true)
      end
      assert.is_false(err.retryable)
    end)
    it("the static providers win without any request", function()
      local c = assert(client_for(emu:config{ metadata_endpoint = emu.endpoint }))
      works(c)
      assert.are.equal(0, count(emu, "metadata_token") + count(emu, "metadata_securitykey"))
    end)
  end)

  describe("credentials.providers", function()
    local temporary = require "hcdl.credentials.temporary"

    -- a user's provider: fixed keys, counting how often it is asked
    local function fixed(name, ak, sk, asked)
      return { name = name, network = false, get = function()
        asked[name] = (asked[name] or 0) + 1
        return { ak = ak, sk = sk }
      end }
    end
    -- a user's network provider: the emulator's pod-identity endpoint,
    -- through the client's own transport (net.send)
    local function pod_keys(asked)
      return { name = "my pod keys", network = true, get = function(ctx, net)
        asked.pod = (asked.pod or 0) + 1
        ctx.state.calls = (ctx.state.calls or 0) + 1
        asked.state = ctx.state.calls
        local res, err = net.send({ method = "POST", url = emu.identity.pod_identity_url, body = "{}",
          headers = { Authorization = emu.identity.pod_token } }, 5, "pod_identity")
        if not res then return nil, err end
        if res.status ~= 200 then return nil, "HTTP " .. res.status end
        return temporary.parse(res.body, "my pod keys")
      end }
    end
    local function with_providers(list, over)
      local c = bare(over)
      c.credentials = { providers = list }
      return c
    end

    it("uses a table provider, and the first in the list that answers", function()
      local asked = {}
      local c = assert(client_for(with_providers{ fixed("mine", emu.ak, emu.sk, asked),
        fixed("second", "NOT-USED", "NOT-USED", asked) }))
      works(c)
      assert.matches("credentials from mine", tostring(c), 1, true)
      assert.are.same({ mine = 1 }, asked)
      assert.are.same({ { name = "mine", network = false }, { name = "second", network = false } },
        c:credential_providers())
    end)

    it("takes module names, in the order given", function()
      local asked = {}
      local c = assert(client_for(with_providers{ "hcdl.credentials.env", fixed("mine", "NOT-USED", "NOT-USED", asked) },
        { HUAWEICLOUD_SDK_AK = emu.ak, HUAWEICLOUD_SDK_SK = emu.sk }))
      works(c)
      assert.matches("credentials from environment (HUAWEICLOUD_SDK_AK)", tostring(c), 1, true)
      assert.are.same({}, asked)
      c = assert(client_for(with_providers{ fixed("mine", emu.ak, emu.sk, asked), "hcdl.credentials.env" },
        { HUAWEICLOUD_SDK_AK = "NOT-USED", HUAWEICLOUD_SDK_SK = "NOT-USED" }))
      works(c)
      assert.matches("credentials from mine", tostring(c), 1, true)
    end)

    it("goes past a provider that answers nil, and names it when nothing answers", function()
      local asked = {}
      local empty = { name = "empty vault", network = false, get = function()
        asked.empty = (asked.empty or 0) + 1
        return nil, nil, "no secret stored for this host"
      end }
      local c = assert(client_for(with_providers{ empty, fixed("mine", emu.ak, emu.sk, asked) }))
      works(c)
      assert.are.same({ empty = 1, mine = 1 }, asked)
      local _, err = client_for(with_providers{ empty })
      assert.are.equal("input", err.kind)
      assert.matches("no credentials", err.message, 1, true)
      assert.matches("empty vault: no secret stored for this host", err.message, 1, true)
    end)

    it("stops at a provider that answers nil, err, with that error and no secret", function()
      local sk = "Config-Secret-Key-0123456789"
      local asked = {}
      local careless = { name = "vault", network = false, get = function(ctx)
        asked.vault = true
        return nil, "refused to store " .. tostring(ctx.cfg.sk) -- a provider quoting what it saw
      end }
      local r, err = client_for(with_providers({ careless, "hcdl.credentials.config", fixed("mine", emu.ak, emu.sk, asked) },
        { ak = "AK", sk = sk }))
      assert.is_nil(r)
      assert.is_true(asked.vault)
      assert.is_nil(asked.mine)
      assert.are.equal("auth", err.kind)
      assert.matches("vault: refused to store", err.message, 1, true)
      assert.is_nil(tostring(err):find(sk, 1, true))
      -- an hcdl error is passed on as it is
      local typed = { name = "typed", network = false, get = function()
        return nil, core.error{ kind = "io", path = "/vault", message = "/vault: unreadable" }
      end }
      _, err = client_for(with_providers{ typed, fixed("mine", emu.ak, emu.sk, asked) })
      assert.are.same({ "io", "/vault: unreadable" }, { err.kind, err.message })
      assert.is_nil(asked.mine)
    end)

    it("refuses a bad list as an input error, without raising", function()
      local function refused(credentials, field, text, over)
        local cfg = bare(over)
        cfg.credentials = credentials
        local c, err = client_for(cfg)
        assert.is_nil(c)
        assert.are.equal("input", err.kind, tostring(err))
        assert.are.equal(field, err.field)
        assert.matches(text, err.message, 1, true)
      end
      local get = function() return nil end
      refused("env", "credentials", "must be a table")
      refused({ providers = "hcdl.credentials.env" }, "credentials.providers", "must be a list")
      refused({ providers = {} }, "credentials.providers", "at least one")
      refused({ providers = { "hcdl.credentials.env", x = 1 } }, "credentials.providers", "keys 1 to n")
      refused({ providers = { "hcdl.credentials.env" }, order = 1 }, "credentials.order", "unknown option")
      refused({ providers = { "hcdl.credentials.env", 42 } }, "credentials.providers[2]", "module name or a provider table")
      refused({ providers = { "hcdl.credentials.no_such_provider" } }, "credentials.providers[1]",
        "cannot load the module 'hcdl.credentials.no_such_provider'")
      refused({ providers = { "hcdl.credentials.temporary" } }, "credentials.providers[1]", "is not a credential provider")
      refused({ providers = { { name = "x", network = false } } }, "credentials.providers[1]", "needs a get function")
      refused({ providers = { { name = "x", get = get } } }, "credentials.providers[1]", "network = true or false")
      refused({ providers = { { name = 7, network = false, get = get } } }, "credentials.providers[1]", "needs a name")
      refused({ providers = { "hcdl.credentials.env" } }, "ak", "does not list hcdl.credentials.config", { ak = "A", sk = "S" })
      local _, err = client_for(with_providers{ { name = "odd", network = false, get = function() return { ak = "A" } end } })
      assert.are.equal("odd: answered without ak and sk (strings) or token", err.message)
    end)

    it("tells which providers need the network; the default chain is config, environment, profile, metadata, pod", function()
      local c = assert(client_for(emu:config()))
      assert.are.same({ { name = "config", network = false }, { name = "environment", network = false },
        { name = "profile", network = false }, { name = "ECS metadata", network = true },
        { name = "CCE pod identity", network = true } }, c:credential_providers())
      c:credential_providers()[1].name = "changed"
      assert.are.equal("config", c:credential_providers()[1].name)
    end)

    it("asks a network provider at the first call, not at hcdl.new, and again when its keys are due", function()
      emu:ctl("POST", "/identity", { temp_key_ttl = 60 }) -- inside 40 minutes: every call refreshes
      local asked = {}
      local c = assert(client_for(with_providers{ pod_keys(asked), fixed("mine", "NOT-USED", "NOT-USED", asked) }))
      assert.are.equal(0, count(emu, "pod_identity"))
      assert.matches("my pod keys or mine (tried at the first call)", tostring(c), 1, true)
      works(c)
      works(c)
      assert.are.equal(2, count(emu, "pod_identity"))
      assert.are.same({ pod = 2, state = 2, mine = 1 }, asked) -- state kept between calls; mine asked by hcdl.new
      assert.matches("credentials from my pod keys", tostring(c), 1, true)
    end)

    it("goes on to the next provider when a network one fails at the first call", function()
      local asked = {}
      emu:fault{ target = "pod_identity", kind = "status", status = 500, count = 1 }
      local c = assert(client_for(with_providers{ pod_keys(asked), fixed("mine", emu.ak, emu.sk, asked) }))
      works(c)
      assert.matches("credentials from mine", tostring(c), 1, true)
      assert.are.equal(1, count(emu, "pod_identity"))
    end)
  end)
end)
