import { resumePosition } from './partition-book';

// The worker's position rule (matching-worker.service.ts onBatch): a batch may only be applied
// live when it starts at or below the book's next offset; otherwise the book catches up silently
// first. The rejoin case is the chaos-run defect of session 3: a Kafka restart made the consumer
// rejoin while a partition was replaying after a failed commit; the position went back to the
// committed offset, the book kept its mid-replay state, and the commands in between were never
// applied (the engine's state and seq diverged from the input).

describe('resumePosition', () => {
  it('goes on live when the batch starts at or below the next offset', () => {
    expect(resumePosition(99, 100, undefined, undefined)).toBeNull();
    // A stale committed offset (a transaction still being completed): the overlap is skipped.
    expect(resumePosition(199, 150, undefined, undefined)).toBeNull();
  });

  it('replays silently from a restored snapshot up to the committed offset', () => {
    expect(resumePosition(49, 100, undefined, undefined)).toEqual({ seekTo: 50, replayUntil: 100 });
  });

  it('catches up again after a rejoin in the middle of a replay, keeping the further end', () => {
    // Restored at 49, replaying to 100, applied up to 79; the rejoin restarts at the committed 100.
    expect(resumePosition(79, 100, 100, 50)).toEqual({ seekTo: 80, replayUntil: 100 });
    // A replay that was to end further than where the rejoin restarts keeps its end.
    expect(resumePosition(79, 90, 100, 50)).toEqual({ seekTo: 80, replayUntil: 100 });
  });

  it('accepts a real gap once it was sought back to and the batch still starts beyond it', () => {
    expect(resumePosition(79, 120, 100, 80)).toBeNull();
  });
});
