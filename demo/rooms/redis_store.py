"""Class rooms in Redis, shared by replicas on several machines.

Every change is one Lua script, which Redis runs atomically: a worker killed in the middle of a
change leaves either the whole change or none of it. Keys of a room (all expire with it):

    room:CODE                 hash: creator, pin (salted hash), step, revealed, closed, expires,
                              version
    room:CODE:teachers        set of the browsers that may lead it
    room:CODE:members         sorted set of the students who joined it, by when they joined
    room:CODE:answers:STEP    hash: student -> choice
    room:CODE:pinfail         wrong PINs in the current lock period
    tries:NAME                hash: count, first, last of a throttle's window (`throttle.py`)
    rooms:live                sorted set: every room by expiry (the server's cap)
    rooms:open:BROWSER        sorted set: the open rooms a browser created (its cap)
    rooms:secret              the key that signs browser ids

The scripts build some key names themselves, which a single Redis server (what the deployments
run) allows and Redis Cluster does not.
"""

from __future__ import annotations

import secrets
import time

from demo.rooms.identity import (
    PIN_LOCK_SECONDS,
    TEACHERS_PER_ROOM,
    check_browser,
    check_pin,
    pin_digest,
    pin_is,
    pin_refusal,
    teachers_full,
)
from demo.rooms.model import (
    CLOSED_SECONDS,
    JOIN_WINDOW_SECONDS,
    MAX_STEPS,
    N_,
    Limits,
    Room,
    RoomError,
    check_choice,
    joining_paced,
    lead_changes,
    new_code,
    normal_code,
    refused_creation,
    removal_criterion,
    room_from_fields,
    room_full,
)
from demo.rooms.throttle import NO_TRIES, Tries

# The shebang makes Redis refuse a script that writes while Redis is full (noeviction), as it
# refuses a plain write, instead of letting it grow past maxmemory.
TOUCH = f"""#!lua
local function touch(code, expires, extend_only)
  local room = 'room:' .. code
  local current = tonumber(redis.call('HGET', room, 'expires') or '0')
  -- Every key is given the room's expiry, even when it does not move: a key written just now
  -- must never be left without one.
  if extend_only and current > expires then expires = current end
  local at = math.floor(expires) + 1
  redis.call('HSET', room, 'expires', expires)
  for _, suffix in ipairs({{'', ':teachers', ':members'}}) do
    redis.call('EXPIREAT', room .. suffix, at)
  end
  for step = 1, {MAX_STEPS} do redis.call('EXPIREAT', room .. ':answers:' .. step, at) end
  redis.call('ZADD', 'rooms:live', expires, code)
  local mine = 'rooms:open:' .. redis.call('HGET', room, 'creator')
  if redis.call('HGET', room, 'closed') == '1' then
    redis.call('ZREM', mine, code)
  else
    redis.call('ZADD', mine, expires, code)
    redis.call('EXPIREAT', mine, at)
  end
end
local function alive(room, now)
  local expires = redis.call('HGET', room, 'expires')
  return expires and tonumber(expires) >= now
end
"""

CREATE = """
local now, expires = tonumber(ARGV[1]), tonumber(ARGV[2])
local code, browser = ARGV[5], ARGV[6]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
local live, mine = redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])
if mine >= tonumber(ARGV[4]) or live >= tonumber(ARGV[3]) then return {'limit', live, mine} end
local room = 'room:' .. code
if redis.call('EXISTS', room) == 1 then return {'taken', live, mine} end
redis.call('HSET', room, 'creator', browser, 'pin', ARGV[7], 'step', 1, 'revealed', 0,
           'closed', 0, 'expires', 0, 'version', 1)
redis.call('SADD', room .. ':teachers', browser)
touch(code, expires, false)
return {'ok', live, mine}
"""

LEAD = """
local code, browser, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local room = 'room:' .. code
if not alive(room, now) then return 'gone' end
if redis.call('SISMEMBER', room .. ':teachers', browser) == 0 then return 'not-teacher' end
for i = 6, #ARGV, 2 do redis.call('HSET', room, ARGV[i], ARGV[i + 1]) end
redis.call('HINCRBY', room, 'version', 1)
local closed = redis.call('HGET', room, 'closed') == '1'
touch(code, tonumber(closed and ARGV[5] or ARGV[4]), false)
return 'ok'
"""

JOIN = """
local code, student, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local room = 'room:' .. code
if not alive(room, now) then return 'gone' end
local members = room .. ':members'
if redis.call('ZSCORE', members, student) then return 'ok' end
if redis.call('HGET', room, 'closed') == '1' then return 'gone' end
if redis.call('HGET', room, 'locked') == '1' then return 'locked' end
if redis.call('ZCARD', members) >= tonumber(ARGV[5]) then return 'full' end
if redis.call('ZCOUNT', members, ARGV[7], '+inf') >= tonumber(ARGV[6]) then return 'paced' end
redis.call('ZADD', members, now, student)
touch(code, tonumber(ARGV[4]), true)
return 'ok'
"""

ANSWER = """
local code, step, student, choice = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local room = 'room:' .. code
if not alive(room, tonumber(ARGV[5])) or redis.call('HGET', room, 'closed') ~= '0' then
  return 'gone'
end
if redis.call('HGET', room, 'step') ~= step or redis.call('HGET', room, 'revealed') ~= '0' then
  return 'not-now'
end
if not redis.call('ZSCORE', room .. ':members', student) then return 'not-member' end
redis.call('HSET', room .. ':answers:' .. step, student, choice)
touch(code, tonumber(ARGV[6]), true)
return 'ok'
"""

REMOVE = f"""
local code, browser, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local room = 'room:' .. code
if not alive(room, now) then return -1 end
if redis.call('SISMEMBER', room .. ':teachers', browser) == 0 then return -2 end
local members = room .. ':members'
local chosen = {{}}
if ARGV[4] == 'since' then
  chosen = redis.call('ZRANGEBYSCORE', members, ARGV[5], '+inf')
else
  for _, student in ipairs(redis.call('ZRANGE', members, 0, -1)) do
    if redis.call('HEXISTS', room .. ':answers:' .. ARGV[5], student) == 0 then
      table.insert(chosen, student)
    end
  end
end
for _, student in ipairs(chosen) do
  redis.call('ZREM', members, student)
  for step = 1, {MAX_STEPS} do redis.call('HDEL', room .. ':answers:' .. step, student) end
end
return #chosen
"""

TRIES = """
local now, seconds = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'count', 0, 'first', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(seconds * 1000))
end
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'count', 1)
return redis.call('HMGET', KEYS[1], 'count', 'first', 'last')
"""

EVICTING = ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu")
EVICTING += ("volatile-random", "volatile-ttl")

REFUSALS = {
    "gone": N_("This room is closed or does not exist."),
    "not-teacher": N_("Only this room's teacher can lead it."),
    "not-now": N_("Answers are taken for the current step until the reveal."),
    "not-member": N_("Only a student who joined this room can answer in it."),
    "locked": N_("This room takes no new students now: ask your teacher to let you join."),
}


class RedisStore:
    """Rooms in Redis (see the module's docstring for the keys)."""

    def __init__(self, url: str, limits: Limits | None = None):
        import redis

        self.redis = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=3, socket_connect_timeout=3
        )
        self.limits = limits or Limits.from_environment()
        self.scripts = {
            name: self.redis.register_script(TOUCH + body)
            for name, body in {
                "create": CREATE,
                "lead": LEAD,
                "join": JOIN,
                "answer": ANSWER,
                "remove": REMOVE,
                "tries": TRIES,
            }.items()
        }
        self.secret_value: bytes | None = None
        check_no_eviction(self.redis)

    def run(self, name: str, *args, keys=()) -> str | list:
        return self.scripts[name](keys=list(keys), args=[str(arg) for arg in args])

    def ping(self) -> None:
        """A write, not only PING: a full Redis answers PING but refuses writes."""
        self.redis.set("rooms:ping", str(time.time()), ex=60)

    def tries(self, name: str, seconds: float, add: bool = True) -> Tries:
        """As SQLiteStore.tries: one key per name, expiring with its window."""
        if add:
            counted = self.run("tries", time.time(), seconds, keys=[f"tries:{name}"])
        else:
            counted = self.redis.hmget(f"tries:{name}", "count", "first", "last")
        if counted[0] is None:
            return NO_TRIES
        return Tries(int(counted[0]), float(counted[1]), float(counted[2]))

    def secret(self) -> bytes:
        if self.secret_value is None:
            self.redis.set("rooms:secret", secrets.token_hex(32), nx=True)
            self.secret_value = bytes.fromhex(self.redis.get("rooms:secret"))
        return self.secret_value

    def create(self, teacher: str, pin: str) -> Room:
        check_browser(teacher)
        check_pin(pin)
        digest, now = pin_digest(pin), time.time()
        expires = now + self.limits.idle_seconds
        keys = ("rooms:live", f"rooms:open:{teacher}")
        caps = (self.limits.rooms_per_server, self.limits.rooms_per_browser)
        for _ in range(20):
            code = new_code()
            outcome, live, mine = self.run(
                "create", now, expires, *caps, code, teacher, digest, keys=keys
            )
            if outcome == "limit":
                raise refused_creation(int(live), int(mine), self.limits)
            if outcome == "ok":
                return Room(code, 1, False, False, expires, 1)
        raise RoomError(N_("No free room code; try again."))

    def rooms_of(self, browser: str) -> list[str]:
        """The codes of the open rooms `browser` created."""
        return list(self.redis.zrangebyscore(f"rooms:open:{browser}", time.time(), "+inf"))

    def room(self, code: str | None) -> Room | None:
        code = normal_code(code)
        if code is None:
            return None
        return room_from_fields(code, self.redis.hgetall(f"room:{code}"), time.time())

    def is_teacher(self, code: str | None, browser: str | None) -> bool:
        code = normal_code(code)
        if code is None or not browser:
            return False
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(f"room:{code}", "expires")
        pipe.sismember(f"room:{code}:teachers", browser)
        expires, teacher = pipe.execute()
        return bool(teacher) and expires is not None and float(expires) >= time.time()

    def sign_in(self, code: str, browser: str, pin: str) -> None:
        """As SQLiteStore.sign_in. The try is counted before the PIN is checked, so that tries
        sent at the same moment cannot pass the limit; a right PIN gives its try back."""
        check_browser(browser)
        code = normal_code(code)
        if self.room(code) is None:
            raise RoomError(N_("This room does not exist any more."))
        failures = f"room:{code}:pinfail"
        pipe = self.redis.pipeline()
        pipe.incr(failures)
        pipe.expire(failures, PIN_LOCK_SECONDS, nx=True)
        pipe.hget(f"room:{code}", "pin")
        tries, _, stored = pipe.execute()
        refusal = pin_refusal(pin_is(pin, stored or ""), int(tries) - 1)
        if refusal is not None:
            raise refusal
        self.redis.decr(failures)
        teachers = f"room:{code}:teachers"
        known = self.redis.sismember(teachers, browser)
        if not known and self.redis.scard(teachers) >= TEACHERS_PER_ROOM:
            raise teachers_full()
        pipe = self.redis.pipeline()
        pipe.sadd(teachers, browser)
        pipe.zrem(f"room:{code}:members", browser)
        for step in range(1, MAX_STEPS + 1):
            pipe.hdel(f"room:{code}:answers:{step}", browser)
        pipe.execute()

    def lead(self, code, browser, step=None, revealed=None, closed=None, locked=None) -> Room:
        code, now = normal_code(code), time.time()
        room = self.room(code)
        if room is None or not self.is_teacher(code, browser):
            raise RoomError(REFUSALS["not-teacher" if room else "gone"])
        if room.closed and closed is False:
            self.check_reopening(code, now)
        changes = lead_changes(step, revealed, closed, locked)
        changes = [str(item) for pair in changes.items() for item in pair]
        expiries = (now + self.limits.idle_seconds, now + CLOSED_SECONDS)
        outcome = self.run("lead", code, browser, now, *expiries, *changes)
        if outcome != "ok":
            raise RoomError(REFUSALS[outcome])
        return self.room(code)

    def check_reopening(self, code: str, now: float) -> None:
        creator = self.redis.hget(f"room:{code}", "creator") or ""
        mine = self.redis.zcount(f"rooms:open:{creator}", now, "+inf")
        refusal = refused_creation(0, mine, self.limits, reopening=True)
        if refusal is not None:
            raise refusal

    def join(self, code: str, student: str) -> None:
        check_browser(student)
        code, now = normal_code(code), time.time()
        cap = self.limits.students_per_room
        pace = (self.limits.joins_per_minute, now - JOIN_WINDOW_SECONDS)
        outcome = self.run("join", code, student, now, now + self.limits.idle_seconds, cap, *pace)
        if outcome == "full":
            raise room_full(self.limits)
        if outcome == "paced":
            raise joining_paced(self.limits)
        if outcome != "ok":
            raise RoomError(REFUSALS[outcome])

    def answer(self, code: str, step: int, student: str, choice: str) -> None:
        check_browser(student)
        check_choice(choice)
        code, now = normal_code(code), time.time()
        expires = now + self.limits.idle_seconds
        outcome = self.run("answer", code, int(step), student, choice, now, expires)
        if outcome != "ok":
            raise RoomError(REFUSALS[outcome])

    def tally(self, code: str, step: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for choice in self.redis.hvals(f"room:{normal_code(code)}:answers:{step}"):
            counts[choice] = counts.get(choice, 0) + 1
        return counts

    def joined(self, code: str, since: float = 0.0) -> int:
        return int(self.redis.zcount(f"room:{normal_code(code)}:members", since, "+inf"))

    def remove_students(
        self, code: str, teacher: str, joined_since: float | None = None, unanswered_step=None
    ) -> int:
        """As SQLiteStore.remove_students, in one script."""
        chosen = removal_criterion(joined_since, unanswered_step)
        mode = "since" if joined_since is not None else "unanswered"
        removed = int(self.run("remove", normal_code(code), teacher, time.time(), mode, chosen))
        if removed < 0:
            raise RoomError(REFUSALS["gone" if removed == -1 else "not-teacher"])
        return removed

    def answer_of(self, code: str, step: int, student: str) -> str | None:
        return self.redis.hget(f"room:{normal_code(code)}:answers:{step}", student)


def check_no_eviction(client) -> None:
    """Refuses a Redis that may evict keys when full: it would leave rooms missing a part."""
    policy = client.info("memory").get("maxmemory_policy", "noeviction")
    if policy in EVICTING:
        import redis

        raise redis.RedisError(
            f"Redis evicts keys when it is full (maxmemory-policy {policy}), which would leave "
            "rooms missing a part: set maxmemory-policy to noeviction for the room store."
        )
