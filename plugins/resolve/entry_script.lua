--[[
MF-MJT Sound (Lua): AI sound for the In-Out range of the current timeline.

For DaVinci Resolve's free edition, where Python scripts are no longer listed since 21.1 (it
works in Studio too). This script does the Resolve side (range, render, import, placement) and
runs `mfmjt resolve-bridge` for the daemon side, so Resolve needs no Python packages at all.
Installed into Workspace > Scripts > Edit by `mfmjt install-resolve`, which fills in the three
values below. Put a marker inside the range and write the prompt in its note.

Frame spaces: GetMarkInOut() and markers are relative to the timeline start; render marks and
AppendToTimeline's recordFrame are absolute (the start is often 86400). AppendToTimeline drops
a clip that would overlap another without a word, so the track is read back afterwards.
]]

local BRIDGE_COMMAND = [==[@MFMJT_BRIDGE_COMMAND@]==]  -- shell command line of `mfmjt resolve-bridge`
local SETTINGS_FILE = [==[@MFMJT_SETTINGS_FILE@]==]   -- resolve.json (prompt, address, audio folder)
local RENDER_DIR = [==[@MFMJT_RENDER_DIR@]==]         -- where the range is rendered (files deleted after)

local PINNED_PRESET = "MF-MJT Render"
local BASE_PRESETS = {"H.264 Master", "H.264", "YouTube - 1080p", "YouTube 1080p"}
local BIN_NAME = "MF-MJT"
local RENDER_WIDTH = 640
local RENDER_TIMEOUT_S = 900
local WINDOWS = package.config:sub(1, 1) == "\\"

local function fail(message) error({mfmjt = message}, 0) end
local function log(message) print("MF-MJT: " .. message) end

local function sleep(seconds)
  local lib = rawget(_G, "bmd")
  if lib and lib.wait then lib.wait(seconds) return end
  local stop = os.clock() + seconds  -- no sleep in plain Lua: spin briefly
  while os.clock() < stop do end
end

-- BEGIN command-line quoting (tests/resolve/test_lua_quoting.py runs this block on its own)
-- Project text (timeline names, marker notes) never reaches a command line: it goes into a JSON
-- request file. Only paths remain, and they are quoted for the shell io.popen runs.

-- POSIX sh: one single-quoted word; a ' inside becomes '\'' (nothing is special inside '...').
local function quote_posix(text)
  return "'" .. tostring(text):gsub("'", "'\\''") .. "'"
end

-- cmd.exe: first the quoting the program's argument parser undoes (CommandLineToArgvW / the C
-- runtime: backslashes double only before a quote), then a caret before every character cmd.exe
-- treats specially, the quotes included, so cmd sees no quoted region and no operator; a caret
-- before % also keeps %NAME% from expanding (cmd looks up "NAME^", which nobody defines).
-- A line break ends a cmd.exe command whatever the quoting, so it is refused.
local function quote_windows(text)
  text = tostring(text)
  if text:find("[\r\n%z]") then error({mfmjt = "a line break cannot be passed to cmd.exe: " .. text}, 0) end
  local out, slashes = {'"'}, 0
  for ch in text:gmatch(".") do
    if ch == "\\" then
      slashes = slashes + 1
    elseif ch == '"' then
      out[#out + 1] = string.rep("\\", 2 * slashes + 1) .. '"'
      slashes = 0
    else
      out[#out + 1] = string.rep("\\", slashes) .. ch
      slashes = 0
    end
  end
  out[#out + 1] = string.rep("\\", 2 * slashes) .. '"'
  return (table.concat(out):gsub('[%(%)%%!%^"<>&|]', "^%0"))
end

local function quote(text)
  if WINDOWS then return quote_windows(text) end
  return quote_posix(text)
end

-- The line io.popen runs: the bridge, its request file, stderr into stdout. On Windows io.popen
-- runs `cmd.exe /c LINE`, which removes the first and the last quote of LINE: hence one more pair.
local function bridge_line(request_path)
  local command = BRIDGE_COMMAND .. " --request " .. quote(request_path) .. " 2>&1"
  if WINDOWS then return '"' .. command .. '"' end
  return command
end

-- A JSON string: quotes, backslashes and control characters escaped, other bytes (UTF-8) as is.
local function json_string(text)
  local escapes = {['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n",
                   ["\r"] = "\\r", ["\t"] = "\\t"}
  return '"' .. tostring(text):gsub('[%c"\\]', function(c)
    return escapes[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- A flat JSON object of strings (keys sorted, so the file is the same for the same request).
local function json_object(fields)
  local keys, parts = {}, {}
  for key, _ in pairs(fields) do keys[#keys + 1] = key end
  table.sort(keys)
  for _, key in ipairs(keys) do parts[#parts + 1] = json_string(key) .. ": " .. json_string(fields[key]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end
-- END command-line quoting

local function contains(list, value)
  for _, v in ipairs(list or {}) do if v == value then return true end end
  return false
end

-- "23.976" -> 24000, 1001; "25" -> 25, 1 (NTSC rates exactly, never as a float)
local function frame_rate(text)
  local value = tonumber(string.match(tostring(text), "^%s*([0-9]+%.?[0-9]*)"))
  if not value or value <= 0 then fail("cannot read the timeline frame rate " .. tostring(text)) end
  for _, base in ipairs({24, 30, 48, 60, 96, 120}) do
    if math.abs(value - base * 1000 / 1001) < 0.01 then return base * 1000, 1001 end
  end
  if value == math.floor(value) then return value, 1 end
  return math.floor(value * 1000 + 0.5), 1000
end

local function read_range(timeline)
  local ok, marks = pcall(function() return timeline:GetMarkInOut() end)
  if not ok or type(marks) ~= "table" then fail("reading In/Out marks needs DaVinci Resolve 19.1 or later") end
  local mark = (marks.video and marks.video["in"] and marks.video) or (marks.audio and marks.audio["in"] and marks.audio)
  if not mark or mark.out == nil then fail("set In and Out marks (I and O keys) on the timeline around the shot first") end
  local num, den = frame_rate(timeline:GetSetting("timelineFrameRate"))
  local start = timeline:GetStartFrame()
  local r = {mark_in = mark["in"], mark_out = mark.out, start = start, num = num, den = den}
  if r.mark_out < r.mark_in then fail("the Out mark is before the In mark") end
  r.record_in, r.record_out, r.frames = start + r.mark_in, start + r.mark_out, r.mark_out - r.mark_in + 1
  return r
end

local function prompt_from_markers(timeline, r)
  local frames = {}
  for frame, _ in pairs(timeline:GetMarkers() or {}) do
    local f = tonumber(frame)
    if f and f >= r.mark_in and f <= r.mark_out then frames[#frames + 1] = frame end
  end
  table.sort(frames, function(a, b) return tonumber(a) < tonumber(b) end)
  for _, frame in ipairs(frames) do
    local marker = timeline:GetMarkers()[frame]
    local text = (marker.note and marker.note ~= "" and marker.note) or marker.name
    if text and text:match("%S") then return text end
  end
  return nil
end

local function render_size(timeline)
  local tw = tonumber(timeline:GetSetting("timelineResolutionWidth")) or 1920
  local th = tonumber(timeline:GetSetting("timelineResolutionHeight")) or 1080
  local w = math.min(RENDER_WIDTH, tw)
  w = w - w % 2
  local h = math.max(2, math.floor(th * w / tw / 2 + 0.5) * 2)
  return w, h
end

local function has_video_track(path)
  local file = io.open(path, "rb")
  if not file then return false end
  local data = file:read("*a")
  file:close()
  return data:find("hdlr........vide") ~= nil  -- an MP4 'hdlr' box of type 'vide'
end

local function pin_preset(project, w, h)
  local names = project:GetRenderPresetList() or {}
  if contains(names, PINNED_PRESET) and project:LoadRenderPreset(PINNED_PRESET) then return end
  local base
  for _, name in ipairs(BASE_PRESETS) do if contains(names, name) then base = name break end end
  if not base or not project:LoadRenderPreset(base) then
    fail("no H.264 render preset found; save a preset named '" .. PINNED_PRESET .. "' that renders H.264 MP4 video")
  end
  if not project:SetCurrentRenderFormatAndCodec("mp4", "H264") then fail("Resolve refused MP4/H.264 as render format") end
  project:SetCurrentRenderMode(1)
  project:SetRenderSettings({ExportVideo = true, ExportAudio = false, FormatWidth = w, FormatHeight = h})
  project:SaveAsNewRenderPreset(PINNED_PRESET)
end

local function render_range(resolve, project, timeline, r)
  local page = resolve:GetCurrentPage()
  local format_codec = project:GetCurrentRenderFormatAndCodec() or {}
  local mode = project:GetCurrentRenderMode()
  local snapshot = "MF-MJT saved " .. tostring(os.time())
  local saved = project:SaveAsNewRenderPreset(snapshot)
  if page ~= "deliver" then resolve:OpenPage("deliver") end
  local name = string.format("mfmjt-range-%d-%d-%d", r.record_in, r.record_out, os.time())
  local job
  local ok, err = pcall(function()
    local w, h = render_size(timeline)
    pin_preset(project, w, h)
    project:SetCurrentRenderMode(1)
    if not project:SetRenderSettings({SelectAllFrames = false, MarkIn = r.record_in, MarkOut = r.record_out,
        TargetDir = RENDER_DIR, CustomName = name, ExportVideo = true, ExportAudio = false,
        FormatWidth = w, FormatHeight = h}) then fail("Resolve refused the render settings") end
    job = project:AddRenderJob()
    if not job or job == "" then fail("Resolve refused to add a render job (check the In/Out marks)") end
    if not project:StartRendering(job) then fail("Resolve did not start rendering") end
    local waited, shown = 0, -1
    while true do
      local status = project:GetRenderJobStatus(job) or {}
      local percent = tonumber(status.CompletionPercentage) or 0
      if math.floor(percent / 25) ~= math.floor(shown / 25) then log("rendering " .. percent .. "%") shown = percent end
      local state = status.JobStatus
      if (state == "Complete" or state == "Failed" or state == "Cancelled") and not project:IsRenderingInProgress() then
        if state ~= "Complete" then fail("the render ended as " .. tostring(state)) end
        break
      end
      if waited > RENDER_TIMEOUT_S then project:StopRendering() fail("the render took too long; stopped it") end
      sleep(0.25)
      waited = waited + 0.25
    end
  end)
  local path = RENDER_DIR .. (WINDOWS and "\\" or "/") .. name .. ".mp4"
  for _, entry in ipairs(project:GetRenderJobList() or {}) do
    if entry.JobId == job and entry.TargetDir and entry.OutputFilename then
      path = entry.TargetDir .. (WINDOWS and "\\" or "/") .. entry.OutputFilename
    end
  end
  if job then project:DeleteRenderJob(job) end
  if saved then project:LoadRenderPreset(snapshot) project:DeleteRenderPreset(snapshot) end
  if format_codec.format and format_codec.codec then
    project:SetCurrentRenderFormatAndCodec(format_codec.format, format_codec.codec)
  end
  if mode ~= nil then project:SetCurrentRenderMode(mode) end
  if page and page ~= "deliver" then resolve:OpenPage(page) end
  if not ok then error(err, 0) end
  if not has_video_track(path) then
    os.remove(path)
    fail("the render has no video stream; check that the '" .. PINNED_PRESET .. "' preset exports video")
  end
  return path
end

-- Runs the bridge; returns the WAV path and seed from its `result` record. Everything taken from
-- the project travels in a JSON request file; the command line holds only that file's path.
local function generate(video, r, timeline_name, prompt)
  local request = {video = video, settings = SETTINGS_FILE,
                   name = string.format("%s_%d-%d", timeline_name, r.record_in, r.record_out)}
  if prompt then request.prompt = prompt end
  local request_path = video .. ".request.json"  -- beside the render, whose name is unique
  local file = io.open(request_path, "wb")
  if not file then fail("cannot write the request file " .. request_path) end
  file:write(json_object(request))
  file:close()
  local pipe = io.popen(bridge_line(request_path), "r")
  if not pipe then os.remove(request_path) fail("cannot run the MF-MJT bridge: " .. BRIDGE_COMMAND) end
  local wav, seed, problem, stated, last = nil, nil, nil, nil, {}
  local stages = {}
  for line in pipe:lines() do
    local fraction, stage = line:match("^progress\t([^\t]*)\t([^\t\r]*)")
    local path, s = line:match("^result\t([^\t]*)\t([^\t]*)\t")
    local code, message = line:match("^error\t([^\t]*)\t([^\r]*)")
    if stage then  -- the job state machine's whole line; logged once per phase (its first word)
      local phase = stage:match("^(%S+)") or stage
      if not stages[phase] then stages[phase] = true log(stage) end
    elseif path then wav, seed = path, s
    elseif code and (message:match("^failed: ") or message:match("^cancelled: ")) then stated = message
    elseif code then problem = message .. " [" .. code .. "]"
    elseif not fraction then last[#last + 1] = line if #last > 5 then table.remove(last, 1) end end
  end
  pipe:close()
  os.remove(request_path)
  if not wav and stated then fail(stated) end  -- the job state machine's line, whole
  if not wav then fail("the MF-MJT bridge failed: " .. (problem or table.concat(last, " / "))) end
  return wav, seed
end

local function media_bin(media_pool)
  local root = media_pool:GetRootFolder()
  for _, folder in ipairs(root:GetSubFolderList() or {}) do
    if folder:GetName() == BIN_NAME then return folder end
  end
  local folder = media_pool:AddSubFolder(root, BIN_NAME)
  if not folder then fail("could not create the media pool bin " .. BIN_NAME) end
  return folder
end

local function import_audio(media_pool, wav)
  local previous = media_pool:GetCurrentFolder()
  media_pool:SetCurrentFolder(media_bin(media_pool))
  local items = media_pool:ImportMedia({wav}) or {}
  if previous then media_pool:SetCurrentFolder(previous) end
  if not items[1] then fail("Resolve could not import " .. wav) end
  return items[1]
end

local function track_is_free(timeline, index, first, stop)
  for _, item in ipairs(timeline:GetItemListInTrack("audio", index) or {}) do
    if item:GetStart() < stop and item:GetEnd() > first then return false end
  end
  return true
end

local function stereo_track(timeline, first, stop)
  local count = timeline:GetTrackCount("audio") or 0
  for index = 1, count do
    if tostring(timeline:GetTrackSubType("audio", index)):lower() == "stereo"
        and not timeline:GetIsTrackLocked("audio", index) and track_is_free(timeline, index, first, stop) then
      return index
    end
  end
  timeline:AddTrack("audio", "stereo")
  if (timeline:GetTrackCount("audio") or 0) <= count then timeline:AddTrack("audio", {audioType = "stereo"}) end
  local after = timeline:GetTrackCount("audio") or 0
  if after <= count then fail("Resolve refused to add a stereo audio track") end
  return after
end

local function place_audio(media_pool, timeline, item, r)
  -- a WAV takes the project rate at import; rounding may make it a frame shorter than the range
  local frames = math.min(r.frames, math.floor(tonumber(item:GetClipProperty("Frames")) or r.frames))
  local track = stereo_track(timeline, r.record_in, r.record_in + frames)
  media_pool:AppendToTimeline({{mediaPoolItem = item, startFrame = 0, endFrame = frames, mediaType = 2,
                                trackIndex = track, recordFrame = r.record_in}})
  local wanted = item:GetUniqueId()
  for _, placed in ipairs(timeline:GetItemListInTrack("audio", track) or {}) do
    local source = placed:GetMediaPoolItem()
    if placed:GetStart() == r.record_in and source and source:GetUniqueId() == wanted then return track end
  end
  fail("Resolve did not place the sound on audio track " .. track .. " at frame " .. r.record_in
       .. " (it drops clips that would overlap another); it is in the " .. BIN_NAME .. " bin")
end

local function run()
  local resolve = rawget(_G, "resolve") or (rawget(_G, "Resolve") and Resolve())
  if not resolve then fail("run this from Workspace > Scripts inside DaVinci Resolve") end
  local project = resolve:GetProjectManager():GetCurrentProject()
  local timeline = project and project:GetCurrentTimeline()
  if not timeline then fail("open a project and a timeline first") end
  local r = read_range(timeline)
  local prompt = prompt_from_markers(timeline, r)
  log(string.format("%d frames at %.3f fps from frame %d, prompt %s", r.frames, r.num / r.den, r.record_in,
                    prompt or "(from resolve.json)"))
  local video = render_range(resolve, project, timeline, r)
  local name = tostring(timeline:GetName() or "timeline")  -- the bridge makes it a safe file name
  local ok, wav, seed = pcall(generate, video, r, name, prompt)
  os.remove(video)
  if not ok then error(wav, 0) end
  local media_pool = project:GetMediaPool()
  local item = import_audio(media_pool, wav)
  local track = place_audio(media_pool, timeline, item, r)
  log("placed " .. wav .. " on A" .. track .. " at frame " .. r.record_in .. " (seed " .. tostring(seed) .. ")")
  return {wav = wav, track = track, record_in = r.record_in, frames = r.frames, seed = seed}
end

local ok, outcome = pcall(run)
if not ok then
  log(type(outcome) == "table" and outcome.mfmjt or tostring(outcome))
  MFMJT_OUTCOME = {error = type(outcome) == "table" and outcome.mfmjt or tostring(outcome)}
else
  MFMJT_OUTCOME = outcome
end
