// The websocket close codes the site sends: the mirror of spaces_site/close_codes.py (a test keeps them equal).

export const CLOSE = Object.freeze({
  INTERNAL_ERROR: 1011,
  BAD_FRAME: 4400,
  UNAUTHENTICATED: 4401,
  FORBIDDEN: 4403,
  NOT_FOUND: 4404,
  SUPERSEDED: 4406,
  SLOW_LISTENER: 4408,
  NOT_LIVE: 4409,
  ENDED: 4410,
  FRAME_TOO_LARGE: 4413,
  FLOOD: 4429,
});

// A page does not reconnect after these: coming back would be refused again, or another tab has the room.
export const FINAL = new Set([CLOSE.UNAUTHENTICATED, CLOSE.FORBIDDEN, CLOSE.NOT_FOUND, CLOSE.SUPERSEDED, CLOSE.ENDED]);
