// The interface lives in core (core depends on it; backends here implement it); re-exported so existing imports keep working.
export type { Scorer, ScoreRequest } from '../core/scoring/scorer';
