namespace AsiTrace.Report;
