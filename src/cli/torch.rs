//! Runs the PyTorch baseline script (`../shared/bench/torch_baseline.py`: the same network, forward
//! model, Poisson loss and Adam) as a child process and reads the one JSON object it prints, so
//! `bench --compare-torch` can state a speed ratio measured in one command on one machine.

use std::path::PathBuf;
use std::process::Command;

/// What to ask the baseline for: the same sizes ours ran with.
#[derive(Debug, Clone)]
pub struct TorchRequest {
    /// The interpreter (`python3`).
    pub python: PathBuf,
    /// The baseline script.
    pub script: PathBuf,
    /// Run on `cuda` (ours ran on wgpu) instead of the CPU.
    pub on_gpu: bool,
    /// CPU threads (`torch.set_num_threads`), the same as our pool's.
    pub threads: usize,
    /// Pattern size N.
    pub n: usize,
    /// Filter multiplier.
    pub n_filters_scale: usize,
    /// Training batch.
    pub batch_size: usize,
    /// Inference batch.
    pub infer_batch_size: usize,
}

/// The baseline's figures, as it printed them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TorchFigures {
    /// torch's version.
    pub torch: String,
    /// The device it ran on (`cpu`, `cuda`).
    pub device: String,
    /// Its thread count.
    pub threads: usize,
    /// Its parameter count (ours should be the same).
    pub parameters: usize,
    /// Training patterns per second.
    pub train_patterns_per_s: f64,
    /// Inference patterns per second (forward only).
    pub infer_patterns_per_s: f64,
}

impl TorchRequest {
    /// The command line, for the report and for error messages.
    pub fn arguments(&self) -> Vec<String> {
        vec![
            self.script.display().to_string(),
            "--device".into(),
            if self.on_gpu { "cuda" } else { "cpu" }.into(),
            "--threads".into(),
            self.threads.to_string(),
            "--n".into(),
            self.n.to_string(),
            "--nfs".into(),
            self.n_filters_scale.to_string(),
            "--batch".into(),
            self.batch_size.to_string(),
            "--infer-batch".into(),
            self.infer_batch_size.to_string(),
        ]
    }
}

/// Runs the baseline once. The error is a sentence saying what was missing or what failed.
pub fn run_torch_baseline(request: &TorchRequest) -> Result<TorchFigures, String> {
    if !request.script.is_file() {
        return Err(format!(
            "the baseline script {} does not exist (give --torch-script)",
            request.script.display()
        ));
    }
    let output = Command::new(&request.python)
        .args(request.arguments())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", request.python.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let last = stderr.lines().last().unwrap_or("").trim();
        let hint = if stderr.contains("No module named 'torch'") {
            " (pip install torch)"
        } else {
            ""
        };
        return Err(format!(
            "{} exited with {}: {last}{hint}",
            request.python.display(),
            output.status
        ));
    }
    parse_figures(&String::from_utf8_lossy(&output.stdout))
}

/// The last line of the baseline's output that is a JSON object with the figures.
pub fn parse_figures(stdout: &str) -> Result<TorchFigures, String> {
    stdout
        .lines()
        .rev()
        .map(str::trim)
        .filter(|line| line.starts_with('{'))
        .find_map(|line| serde_json::from_str::<TorchFigures>(line).ok())
        .ok_or_else(|| {
            format!(
                "the baseline printed no JSON object with train_patterns_per_s and \
                 infer_patterns_per_s (its output: {:?})",
                stdout.chars().take(200).collect::<String>()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_figures_from_the_last_json_line() {
        let out = "warming up\n{\"framework\": \"pytorch\", \"torch\": \"2.5.0\", \"device\": \"cpu\", \
                   \"threads\": 2, \"n\": 64, \"nfs\": 2, \"parameters\": 2331772, \
                   \"train_batch\": 16, \"train_steps\": 20, \"train_patterns_per_s\": 21.5, \
                   \"infer_batch\": 64, \"infer_patterns_per_s\": 51.0}\n";
        let figures = parse_figures(out).expect("parses");
        assert_eq!(figures.parameters, 2_331_772);
        assert_eq!(figures.threads, 2);
        assert!((figures.train_patterns_per_s - 21.5).abs() < 1e-12);
        assert!((figures.infer_patterns_per_s - 51.0).abs() < 1e-12);
    }

    #[test]
    fn output_without_figures_is_an_error_that_quotes_it() {
        let err = parse_figures("Traceback: boom\n{\"framework\": \"pytorch\"}\n").unwrap_err();
        assert!(err.contains("Traceback"), "{err}");
    }

    #[test]
    fn a_missing_script_is_named() {
        let request = TorchRequest {
            python: "python3".into(),
            script: "/nonexistent/torch_baseline.py".into(),
            on_gpu: false,
            threads: 2,
            n: 64,
            n_filters_scale: 2,
            batch_size: 16,
            infer_batch_size: 64,
        };
        let err = run_torch_baseline(&request).unwrap_err();
        assert!(err.contains("/nonexistent/torch_baseline.py"), "{err}");
    }
}
