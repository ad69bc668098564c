namespace AsiTrace.Model;
