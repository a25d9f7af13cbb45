// What the current orbctl process did so far that its start-up loader cares about: whether it talked to a
// daemon (then the code cache it keeps should include the SDK's code).
export const runState = { daemon: false };
