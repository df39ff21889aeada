--[[
MF-MJT Self-test (Lua): check, inside DaVinci Resolve, the API facts the MF-MJT scripts rely on.

The same checks as selftest.py (for the free edition, which lists only Lua scripts since 21.1).
Run it once from Workspace > Scripts > Edit; it works on a scratch bin and timeline that it
removes afterwards, puts the render settings and the page back, and prints one PASS / FAIL /
SKIP line per check to Workspace > Console. Send the lines back when one says FAIL (see the
Resolve README). Installed by `mfmjt install-resolve`, which fills in WORK_DIR.
]]

local WORK_DIR = [==[@MFMJT_RENDER_DIR@]==]  -- an existing folder for the test WAV (deleted after)
local SCRATCH_NAME = "MF-MJT self-test"
local WAV_SECONDS, WAV_RATE = 2, 48000
local RECORD_OFFSET = 24   -- frames after the timeline start where the WAV is appended
local MARK_IN, MARK_OUT = 30, 40  -- inside the appended clip, relative to the timeline start
local WINDOWS = package.config:sub(1, 1) == "\\"
local SEP = WINDOWS and "\\" or "/"
local METHODS = {  -- what the Lua script calls, per object
  resolve = {"GetProjectManager", "GetProductName", "OpenPage"},
  project = {"GetCurrentTimeline", "GetMediaPool", "SaveAsNewRenderPreset", "LoadRenderPreset",
             "SetRenderSettings", "AddRenderJob"},
  media_pool = {"ImportMedia", "AppendToTimeline", "AddSubFolder"},
  timeline = {"GetStartFrame", "GetMarkInOut", "GetMarkers", "GetItemListInTrack", "AddTrack", "GetTrackSubType"},
}

local function fail(message) error({mfmjt = message}, 0) end

local function little_endian(n, bytes)
  local out = {}
  for i = 1, bytes do out[i] = string.char(n % 256) n = math.floor(n / 256) end
  return table.concat(out)
end

-- A silent 16-bit stereo WAV of exactly WAV_SECONDS at 48 kHz.
local function write_wav(path)
  local size = WAV_RATE * WAV_SECONDS * 4
  local file = io.open(path, "wb")
  if not file then fail("cannot write " .. path) end
  file:write("RIFF", little_endian(36 + size, 4), "WAVE", "fmt ", little_endian(16, 4), little_endian(1, 2),
             little_endian(2, 2), little_endian(WAV_RATE, 4), little_endian(WAV_RATE * 4, 4), little_endian(4, 2),
             little_endian(16, 2), "data", little_endian(size, 4))
  local tenth = string.rep("\0", WAV_RATE * 4 / 10)
  for _ = 1, WAV_SECONDS * 10 do file:write(tenth) end
  file:close()
end

-- "23.976" -> 24000/1001 as a number (NTSC rates exactly)
local function frame_rate(text)
  local value = tonumber(string.match(tostring(text), "^%s*([0-9]+%.?[0-9]*)"))
  if not value or value <= 0 then fail("cannot read the timeline frame rate " .. tostring(text)) end
  for _, base in ipairs({24, 30, 48, 60, 96, 120}) do
    if math.abs(value - base * 1000 / 1001) < 0.01 then return base * 1000 / 1001 end
  end
  return value
end

local function round(x) return math.floor(tonumber(x) + 0.5) end

local function show(value)
  if type(value) == "table" then return "(" .. tostring(value[1]) .. ", " .. tostring(value[2]) .. ")" end
  return tostring(value)
end

local function read_marks(timeline)
  local marks = timeline:GetMarkInOut()
  if type(marks) ~= "table" then return nil end
  for _, kind in ipairs({"video", "audio"}) do
    local mark = marks[kind]
    if type(mark) == "table" and mark["in"] ~= nil and mark.out ~= nil then return {round(mark["in"]), round(mark.out)} end
  end
  return nil
end

local function same(a, b) return a ~= nil and b ~= nil and a[1] == b[1] and a[2] == b[2] end

local function result(name, status, saw) return {name = name, status = status, saw = saw} end

-- ---- the checks ------------------------------------------------------------------------------

local function check_methods(s)
  local objects = {resolve = s.resolve, project = s.project, media_pool = s.media_pool, timeline = s.timeline}
  local missing, total = {}, 0
  for _, kind in ipairs({"resolve", "project", "media_pool", "timeline"}) do
    for _, name in ipairs(METHODS[kind]) do
      total = total + 1
      local ok, found = pcall(function() return objects[kind][name] end)
      if not ok or found == nil then missing[#missing + 1] = kind .. "." .. name end
    end
  end
  local ok, made_up = pcall(function() return s.timeline.MfmjtNoSuchMethod end)
  local saw = string.format("Lua finds %d of %d methods the scripts call", total - #missing, total)
    .. (#missing > 0 and ("; missing: " .. table.concat(missing, ", ")) or "")
    .. "; a made-up name is " .. ((ok and made_up ~= nil) and "found too" or "not found")
  return result("methods", #missing > 0 and "FAIL" or "PASS", saw)
end

local function check_append(s)
  local wav = WORK_DIR .. SEP .. "mfmjt-selftest-" .. s.tag .. ".wav"
  write_wav(wav)
  s.wav = wav
  local items = s.media_pool:ImportMedia({wav}) or {}
  if not items[1] then return result("append", "FAIL", "ImportMedia did not import " .. wav) end
  s.item = items[1]
  local counted = tonumber(s.item:GetClipProperty("Frames"))
  local expected = WAV_SECONDS * s.fps
  if (s.timeline:GetTrackCount("audio") or 0) < 1 then s.timeline:AddTrack("audio", "stereo") end
  local length = math.floor(math.floor(expected) / 2)  -- half the clip: shows whether endFrame is exclusive
  local record = s.start + RECORD_OFFSET
  s.media_pool:AppendToTimeline({{mediaPoolItem = s.item, startFrame = 0, endFrame = length, mediaType = 2,
                                  trackIndex = 1, recordFrame = record}})
  local wanted, placed = s.item:GetUniqueId(), nil
  for _, item in ipairs(s.timeline:GetItemListInTrack("audio", 1) or {}) do
    local source = item:GetMediaPoolItem()
    if source and source:GetUniqueId() == wanted then placed = item end
  end
  local head = string.format("a %d s WAV counts %s frames (timeline %.3f fps: %.2f expected); endFrame %d at "
                             .. "recordFrame %d", WAV_SECONDS, tostring(counted), s.fps, expected, length, record)
  if not placed then return result("append", "FAIL", head .. " left nothing on audio track 1") end
  local start, duration = round(placed:GetStart()), round(placed:GetDuration())
  s.placed = true
  local problems = {}
  if not counted or math.abs(counted - expected) >= 1 then problems[#problems + 1] = "the frame count is not seconds x timeline rate" end
  if start ~= record then
    problems[#problems + 1] = (start == s.start + record) and "recordFrame is not absolute" or "it landed elsewhere"
  end
  if duration ~= length then
    problems[#problems + 1] = (duration == length + 1) and "endFrame is inclusive" or "the length differs"
  end
  local saw = string.format("%s landed at %d for %d frames", head, start, duration)
  if #problems > 0 then return result("append", "FAIL", saw .. "; " .. table.concat(problems, "; ")) end
  return result("append", "PASS", saw)
end

local function check_marks(s)
  if type(s.timeline:GetMarkInOut()) ~= "table" then
    return result("marks", "SKIP", "GetMarkInOut answered no marks table (it is new in Resolve 19.1)")
  end
  if not s.placed then return result("marks", "SKIP", "the scratch timeline is empty (the append check failed)") end
  local relative_ok = s.timeline:SetMarkInOut(MARK_IN, MARK_OUT)
  local relative = read_marks(s.timeline)
  local absolute_ok = s.timeline:SetMarkInOut(s.start + MARK_IN, s.start + MARK_OUT)
  local absolute = read_marks(s.timeline)
  pcall(function() s.timeline:ClearMarkInOut() end)
  local saw = string.format("timeline starts at %d; SetMarkInOut(%d, %d) gave %s and GetMarkInOut read %s; "
    .. "SetMarkInOut(%d, %d) gave %s and read %s", s.start, MARK_IN, MARK_OUT, tostring(relative_ok), show(relative),
    s.start + MARK_IN, s.start + MARK_OUT, tostring(absolute_ok), show(absolute))
  if same(relative, {MARK_IN, MARK_OUT}) and not same(absolute, {s.start + MARK_IN, s.start + MARK_OUT}) then
    return result("marks", "PASS", saw .. ": relative to the timeline start")
  elseif same(relative, {MARK_IN, MARK_OUT}) then
    return result("marks", "FAIL", saw .. ": both kept as given, so the frame space cannot be told")
  end
  return result("marks", "FAIL", saw .. ": not relative to the timeline start")
end

local function check_markers(s)
  if not s.placed then return result("markers", "SKIP", "the scratch timeline is empty (the append check failed)") end
  local relative_ok = s.timeline:AddMarker(MARK_IN, "Blue", "mfmjt-selftest", "relative", 1, "")
  local absolute_ok = s.timeline:AddMarker(s.start + MARK_IN, "Blue", "mfmjt-selftest", "absolute", 1, "")
  local notes, frames = {}, {}
  for frame, marker in pairs(s.timeline:GetMarkers() or {}) do
    notes[round(frame)] = type(marker) == "table" and marker.note or nil
    frames[#frames + 1] = round(frame)
  end
  table.sort(frames)
  local saw = string.format("AddMarker(%d) gave %s, AddMarker(%d) gave %s; GetMarkers has frames [%s]", MARK_IN,
    tostring(relative_ok), s.start + MARK_IN, tostring(absolute_ok), table.concat(frames, ", "))
  if notes[MARK_IN] == "relative" and notes[s.start + MARK_IN] ~= "absolute" then
    return result("markers", "PASS", saw .. ": relative to the timeline start")
  elseif notes[MARK_IN] == "relative" then
    return result("markers", "FAIL", saw .. ": both kept as given, so the frame space cannot be told")
  end
  return result("markers", "FAIL", saw .. ": not relative to the timeline start")
end

local function check_stereo(s)
  local before = s.timeline:GetTrackCount("audio") or 0
  local answer = s.timeline:AddTrack("audio", "stereo")
  local after = s.timeline:GetTrackCount("audio") or 0
  local kind = after > before and ("'" .. tostring(s.timeline:GetTrackSubType("audio", after)) .. "'") or "none"
  local saw = string.format('AddTrack("audio", "stereo") gave %s; audio tracks %d -> %d, the new one %s',
                            tostring(answer), before, after, kind)
  if after == before + 1 and kind:lower() == "'stereo'" then return result("stereo", "PASS", saw) end
  s.timeline:AddTrack("audio", {audioType = "stereo"})
  local later = s.timeline:GetTrackCount("audio") or 0
  local other = later > after and ("'" .. tostring(s.timeline:GetTrackSubType("audio", later)) .. "'") or "none"
  return result("stereo", "FAIL", saw .. '; AddTrack("audio", {audioType = "stereo"}) then added ' .. other)
end

-- What a render job made from the current settings records (GetRenderJobList), or nil.
local function job_settings(project)
  local job = project:AddRenderJob()
  if not job or job == "" then return nil end
  local found
  for _, entry in ipairs(project:GetRenderJobList() or {}) do
    if tostring(entry.JobId) == tostring(job) then
      found = {}
      for key, value in pairs(entry) do if key ~= "JobId" then found[key] = tostring(value) end end
    end
  end
  project:DeleteRenderJob(job)
  return found
end

local function check_render_snapshot(s)
  local project, resolve = s.project, s.resolve
  local page = resolve:GetCurrentPage()
  local user, probe = SCRATCH_NAME .. " user " .. s.tag, SCRATCH_NAME .. " probe " .. s.tag
  local format_codec, mode = project:GetCurrentRenderFormatAndCodec() or {}, project:GetCurrentRenderMode()
  local saved_user = project:SaveAsNewRenderPreset(user)
  resolve:OpenPage("deliver")
  local parent = WORK_DIR:match("^(.*)[/\\][^/\\]+$") or WORK_DIR  -- two folders that exist
  local ok, before, disturbed, loaded, after, saved_probe = pcall(function()
    project:SetRenderSettings({SelectAllFrames = true, TargetDir = WORK_DIR, CustomName = "mfmjt-selftest-a",
                               FormatWidth = 640, FormatHeight = 360})
    local saved = project:SaveAsNewRenderPreset(probe)
    local a = job_settings(project)
    project:SetRenderSettings({TargetDir = parent, CustomName = "mfmjt-selftest-b", FormatWidth = 320, FormatHeight = 180})
    local b = job_settings(project)
    local l = project:LoadRenderPreset(probe)
    return a, b, l, job_settings(project), saved
  end)
  if saved_user then project:LoadRenderPreset(user) project:DeleteRenderPreset(user) end
  project:DeleteRenderPreset(probe)
  if format_codec.format and format_codec.codec then
    project:SetCurrentRenderFormatAndCodec(format_codec.format, format_codec.codec)
  end
  if mode ~= nil then project:SetCurrentRenderMode(mode) end
  if page then resolve:OpenPage(page) end
  if not ok then error(before, 0) end
  local page_back = resolve:GetCurrentPage() == page
  if not (saved_user and saved_probe) then
    return result("render snapshot", "FAIL", "SaveAsNewRenderPreset gave " .. tostring(saved_user) .. " and "
                  .. tostring(saved_probe))
  end
  if not (before and disturbed and after) then
    return result("render snapshot", "FAIL", "AddRenderJob refused a job for the scratch timeline, so the "
                  .. "settings could not be read back")
  end
  local changed, lost, keys = {}, {}, {}
  for key, _ in pairs(before) do keys[#keys + 1] = key end
  table.sort(keys)
  for _, key in ipairs(keys) do
    if before[key] ~= disturbed[key] then changed[#changed + 1] = key end
    if before[key] ~= after[key] then lost[#lost + 1] = key .. " " .. before[key] .. " -> " .. tostring(after[key]) end
  end
  local saw = "changed " .. (#changed > 0 and table.concat(changed, ", ") or "nothing") .. "; LoadRenderPreset gave "
    .. tostring(loaded) .. "; " .. (#lost > 0 and ("not back: " .. table.concat(lost, ", ")) or "all back")
    .. "; page " .. tostring(page) .. " back: " .. tostring(page_back)
  return result("render snapshot", (#changed > 0 and #lost == 0 and page_back) and "PASS" or "FAIL", saw)
end

local CHECKS = {{"methods", check_methods}, {"append", check_append}, {"marks", check_marks},
                {"markers", check_markers}, {"stereo", check_stereo}, {"render snapshot", check_render_snapshot}}

-- ---- the scratch timeline --------------------------------------------------------------------

local function make_scratch(resolve)
  local project = resolve:GetProjectManager():GetCurrentProject()
  if not project then fail("open a project first (the self-test adds and removes a scratch timeline)") end
  local media_pool = project:GetMediaPool()
  local s = {resolve = resolve, project = project, media_pool = media_pool,
             tag = string.format("%06d", os.time() % 1000000)}
  s.previous_timeline, s.previous_bin = project:GetCurrentTimeline(), media_pool:GetCurrentFolder()
  s.bin = media_pool:AddSubFolder(media_pool:GetRootFolder(), SCRATCH_NAME .. " " .. s.tag)
  if s.bin then media_pool:SetCurrentFolder(s.bin) end
  s.timeline = media_pool:CreateEmptyTimeline(SCRATCH_NAME .. " " .. s.tag)
  if not s.timeline then
    if s.bin then media_pool:SetCurrentFolder(s.previous_bin or media_pool:GetRootFolder()) media_pool:DeleteFolders({s.bin}) end
    fail("Resolve refused to create a scratch timeline (CreateEmptyTimeline)")
  end
  project:SetCurrentTimeline(s.timeline)
  s.start = round(s.timeline:GetStartFrame())
  s.fps = frame_rate(s.timeline:GetSetting("timelineFrameRate"))
  return s
end

local function remove_scratch(s)
  if s.previous_timeline then s.project:SetCurrentTimeline(s.previous_timeline) end
  local removed = {}
  removed[#removed + 1] = tostring(s.media_pool:DeleteTimelines({s.timeline}) and true or false)
  if s.item then removed[#removed + 1] = tostring(s.media_pool:DeleteClips({s.item}) and true or false) end
  s.media_pool:SetCurrentFolder(s.previous_bin or s.media_pool:GetRootFolder())
  if s.bin then removed[#removed + 1] = tostring(s.media_pool:DeleteFolders({s.bin}) and true or false) end
  if s.wav then os.remove(s.wav) end
  local left = {}
  for index = 1, s.project:GetTimelineCount() or 0 do
    local timeline = s.project:GetTimelineByIndex(index)
    local name = timeline and tostring(timeline:GetName()) or ""
    if name:sub(-#s.tag) == s.tag then left[#left + 1] = name end
  end
  local all = true
  for _, value in ipairs(removed) do all = all and value == "true" end
  local saw = "scratch timeline, clip and bin deleted: [" .. table.concat(removed, ", ")
    .. "]; timelines left with the tag: " .. (#left > 0 and table.concat(left, ", ") or "none")
  return result("clean-up", (all and #left == 0) and "PASS" or "FAIL", saw)
end

local function run()
  local resolve = rawget(_G, "resolve") or (rawget(_G, "Resolve") and Resolve())
  if not resolve then fail("run this from Workspace > Scripts inside DaVinci Resolve") end
  print(string.format("MF-MJT self-test (Lua): %s %s, %s", tostring(resolve:GetProductName()),
                      tostring(resolve:GetVersionString()), _VERSION))
  local s = make_scratch(resolve)
  print(string.format("scratch timeline '%s': starts at frame %d, %.3f fps", tostring(s.timeline:GetName()),
                      s.start, s.fps))
  local results = {}
  for _, entry in ipairs(CHECKS) do
    local ok, outcome = pcall(entry[2], s)
    if not ok then
      outcome = result(entry[1], "FAIL", "raised " .. (type(outcome) == "table" and tostring(outcome.mfmjt)
                                                         or tostring(outcome)))
    end
    results[#results + 1] = outcome
    print(outcome.status .. " " .. outcome.name .. ": " .. outcome.saw)
  end
  local cleanup = remove_scratch(s)
  results[#results + 1] = cleanup
  print(cleanup.status .. " " .. cleanup.name .. ": " .. cleanup.saw)
  local failed = 0
  for _, r in ipairs(results) do if r.status == "FAIL" then failed = failed + 1 end end
  print(string.format("%d of %d passed or skipped", #results - failed, #results)
        .. (failed > 0 and "; please send every line above to the MF-MJT issue tracker (see the Resolve README)" or ""))
  return results
end

local ok, outcome = pcall(run)
if not ok then
  local message = type(outcome) == "table" and outcome.mfmjt or tostring(outcome)
  print("MF-MJT self-test: " .. message)
  MFMJT_SELFTEST = {error = message}
else
  MFMJT_SELFTEST = {checks = outcome}
end
