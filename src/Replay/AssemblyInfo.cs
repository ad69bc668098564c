namespace AsiTrace.Replay;
