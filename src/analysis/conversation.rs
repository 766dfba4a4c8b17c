//! Conversation-level results computed from the per-turn analyses: sentiment trajectories per
//! role and turn metrics (counts, word share, response latencies).
use super::types::{MessageAnalysis, Role, Trajectory, TurnMetrics};

/// What the conversation figures need of one turn: who, when (Unix seconds), how many words of
/// their own (after the text pipeline cut quotes and signatures).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TurnFacts {
    pub role: Role,
    pub timestamp: Option<f64>,
    pub words: usize,
}

pub fn trajectories(turns: &[TurnFacts], analyses: &[MessageAnalysis]) -> Vec<Trajectory> {
    [Role::Customer, Role::Agent, Role::Bot, Role::Unspecified]
        .into_iter()
        .filter_map(|role| {
            let scores: Vec<f32> = turns
                .iter()
                .zip(analyses)
                .filter(|(t, _)| t.role == role)
                .filter_map(|(_, a)| a.sentiment.as_ref().map(|s| s.score))
                .collect();
            trajectory(role, scores)
        })
        .collect()
}

fn trajectory(role: Role, scores: Vec<f32>) -> Option<Trajectory> {
    let (first, last) = (*scores.first()?, *scores.last()?);
    let n = scores.len() as f32;
    let mean = scores.iter().sum::<f32>() / n;
    // Least-squares slope against the turn index.
    let mean_x = (n - 1.0) / 2.0;
    let (mut num, mut den) = (0.0f32, 0.0f32);
    for (i, s) in scores.iter().enumerate() {
        let dx = i as f32 - mean_x;
        num += dx * (s - mean);
        den += dx * dx;
    }
    let slope = if den > 0.0 { num / den } else { 0.0 };
    Some(Trajectory {
        role,
        scores,
        first,
        last,
        mean,
        slope,
    })
}

pub fn turn_metrics(turns: &[TurnFacts]) -> TurnMetrics {
    let customer_words: usize = turns
        .iter()
        .filter(|t| t.role == Role::Customer)
        .map(|t| t.words)
        .sum();
    let all_words: usize = turns.iter().map(|t| t.words).sum();
    let mut agent_latency = Vec::new();
    let mut customer_latency = Vec::new();
    for pair in turns.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (Some(ta), Some(tb)) = (a.timestamp, b.timestamp) else {
            continue;
        };
        let gap = tb - ta;
        if gap < 0.0 {
            continue; // out-of-order clocks say nothing about latency
        }
        match (a.role, b.role) {
            (Role::Customer, Role::Agent) => agent_latency.push(gap),
            (Role::Agent, Role::Customer) => customer_latency.push(gap),
            _ => {}
        }
    }
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    TurnMetrics {
        turns: turns.len(),
        customer_turns: turns.iter().filter(|t| t.role == Role::Customer).count(),
        agent_turns: turns.iter().filter(|t| t.role == Role::Agent).count(),
        customer_word_share: if all_words == 0 {
            0.0
        } else {
            customer_words as f32 / all_words as f32
        },
        mean_agent_response_seconds: mean(&agent_latency),
        mean_customer_response_seconds: mean(&customer_latency),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: Role, text: &str, ts: f64) -> TurnFacts {
        TurnFacts {
            role,
            timestamp: Some(ts),
            words: text.split_whitespace().count(),
        }
    }

    #[test]
    fn metrics_count_turns_words_and_latency() {
        let turns = vec![
            turn(Role::Customer, "my order is late", 0.0),
            turn(Role::Agent, "sorry let me check", 30.0),
            turn(Role::Customer, "thanks", 90.0),
            turn(Role::Agent, "it ships today", 100.0),
        ];
        let m = turn_metrics(&turns);
        assert_eq!((m.turns, m.customer_turns, m.agent_turns), (4, 2, 2));
        assert!((m.customer_word_share - 5.0 / 12.0).abs() < 1e-6);
        assert!((m.mean_agent_response_seconds - 20.0).abs() < 1e-9);
        assert!((m.mean_customer_response_seconds - 60.0).abs() < 1e-9);
    }

    #[test]
    fn slope_of_improving_scores_is_positive() {
        let t = trajectory(Role::Customer, vec![-0.8, -0.2, 0.4]).unwrap();
        assert!((t.slope - 0.6).abs() < 1e-6);
        assert_eq!((t.first, t.last), (-0.8, 0.4));
        assert!(trajectory(Role::Agent, vec![]).is_none());
    }
}
