//! The sampler: a background thread polling every sensor at a fixed rate (default 10 Hz) into a
//! [`Timeline`] (see [`crate::timeline`]), with phase markers from the runner.
//! With [`Sampler::record_to`] every sample also goes to the timeline side file as it is taken
//! (format: [`crate::timeline_file`]).

use crate::protocol::Phase;
use crate::sensors::Sensor;
use crate::timeline_file::{TimelineRecord, TimelineSink, TIMELINE_SCHEMA_VERSION};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::timeline::{integrate, interpolate, is_cpu_clock, Sample, Timeline};

pub struct Sampler {
    start: Instant,
    interval: Duration,
    timeline: Arc<Mutex<Timeline>>,
    sink: Arc<Mutex<Option<TimelineSink>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Asks the thread for a sample now ([`Sampler::sample_through`]).
    request_sample: Mutex<mpsc::Sender<mpsc::Sender<()>>>,
}

impl Sampler {
    /// Start polling `sensors` every `interval`.
    pub fn start(mut sensors: Vec<Box<dyn Sensor>>, interval: Duration) -> Self {
        let start = Instant::now();
        let timeline = Arc::new(Mutex::new(Timeline {
            sensors: sensors.iter().map(|s| s.name().to_string()).collect(),
            ..Default::default()
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let sink: Arc<Mutex<Option<TimelineSink>>> = Arc::new(Mutex::new(None));
        let (request_sample, requests) = mpsc::channel::<mpsc::Sender<()>>();
        let thread = {
            let (timeline, stop, sink) =
                (Arc::clone(&timeline), Arc::clone(&stop), Arc::clone(&sink));
            std::thread::Builder::new()
                .name("edgebench-sampler".into())
                .spawn(move || {
                    let mut failing: BTreeMap<String, bool> = BTreeMap::new();
                    let mut next = Instant::now();
                    let mut take_sample = || {
                        let t_s = start.elapsed().as_secs_f64();
                        let mut readings = Vec::new();
                        let mut warnings = Vec::new();
                        for sensor in sensors.iter_mut() {
                            let was_failing = failing.get(sensor.name()).copied().unwrap_or(false);
                            match sensor.read() {
                                Ok(r) => {
                                    readings.extend(r);
                                    failing.insert(sensor.name().to_string(), false);
                                }
                                // Warn once per outage, not at every sample.
                                Err(e) => {
                                    if !was_failing {
                                        warnings.push((
                                            t_s,
                                            format!("sensor {} failed: {e}", sensor.name()),
                                        ));
                                    }
                                    failing.insert(sensor.name().to_string(), true);
                                }
                            }
                        }
                        let sample = Sample { t_s, readings };
                        {
                            // Lock order: timeline, then sink (as in `record_to` and `mark`),
                            // so the file gets every sample exactly once.
                            let mut tl = timeline.lock().unwrap_or_else(|e| e.into_inner());
                            if let Some(sink) =
                                sink.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
                            {
                                sink.sample(&sample);
                                for (t_s, message) in &warnings {
                                    sink.write(&TimelineRecord::Warning {
                                        t_s: *t_s,
                                        message: message.clone(),
                                    });
                                }
                            }
                            tl.samples.push(sample);
                            tl.warnings.extend(warnings);
                        }
                    };
                    while !stop.load(Ordering::Relaxed) {
                        take_sample();
                        next += interval;
                        // Until the next scheduled sample, serve requests for one now.
                        loop {
                            let now = Instant::now();
                            if next <= now {
                                next = now;
                                break;
                            }
                            match requests.recv_timeout(next - now) {
                                Ok(done) => {
                                    take_sample();
                                    let _ = done.send(());
                                }
                                Err(mpsc::RecvTimeoutError::Timeout) => break,
                                Err(mpsc::RecvTimeoutError::Disconnected) => {
                                    std::thread::sleep(next - now);
                                    break;
                                }
                            }
                        }
                    }
                })
                .expect("the sampler thread starts")
        };
        Self {
            start,
            interval,
            timeline,
            sink,
            stop,
            thread: Some(thread),
            request_sample: Mutex::new(request_sample),
        }
    }

    /// Make sure the timeline has a sample taken at or after `t_s` (the sampler's clock): when
    /// the latest one is older, poll every sensor now and wait for it (one poll, not a whole
    /// interval). A phase that just ended then has a sample after its end, so its energy is
    /// the counter's difference over the whole phase, not up to the last periodic sample.
    pub fn sample_through(&self, t_s: f64) {
        if self.latest().is_some_and(|s| s.t_s >= t_s) {
            return;
        }
        let (done, wait) = mpsc::channel();
        let sent = self
            .request_sample
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(done);
        if sent.is_ok() {
            // A sensor that hangs must not hang the run: at worst the next periodic sample.
            let _ = wait.recv_timeout(self.interval + Duration::from_secs(1));
        }
    }

    /// Also write the timeline to `path` (appending), starting with what was sampled so far.
    pub fn record_to(&self, path: &std::path::Path, run_id: &str) -> std::io::Result<()> {
        let mut sink = TimelineSink::create(path)?;
        let tl = self.timeline.lock().unwrap_or_else(|e| e.into_inner());
        sink.write(&TimelineRecord::Timeline {
            schema_version: TIMELINE_SCHEMA_VERSION,
            run_id: run_id.to_string(),
            interval_s: self.interval.as_secs_f64(),
            sensors: tl.sensors.clone(),
        });
        for &(t_s, phase) in &tl.marks {
            sink.write(&TimelineRecord::Phase { t_s, phase });
        }
        for sample in &tl.samples {
            sink.sample(sample);
        }
        for (t_s, message) in &tl.warnings {
            sink.write(&TimelineRecord::Warning {
                t_s: *t_s,
                message: message.clone(),
            });
        }
        if let Some(e) = sink.error.take() {
            return Err(std::io::Error::other(e));
        }
        // Samples taken from now on go to the file by the thread.
        *self.sink.lock().unwrap_or_else(|e| e.into_inner()) = Some(sink);
        Ok(())
    }

    /// The timeline file being written, and its first write error if any.
    pub fn timeline_file(&self) -> Option<(std::path::PathBuf, Option<String>)> {
        let sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        sink.as_ref().map(|s| (s.path.clone(), s.error.clone()))
    }

    /// Note in the timeline file that a test starts now; returns the time.
    pub fn begin_test(&self, test_id: &str) -> f64 {
        let t_s = self.now();
        let _order = self.timeline.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sink) = self.sink.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            sink.write(&TimelineRecord::Test {
                t_s,
                test_id: test_id.to_string(),
            });
        }
        t_s
    }

    /// The most recent sample, if any.
    pub fn latest(&self) -> Option<Sample> {
        let tl = self.timeline.lock().unwrap_or_else(|e| e.into_inner());
        tl.samples.last().cloned()
    }

    /// The sampling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Seconds since the sampler started (the timeline's clock).
    pub fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Wait until at least one more sample has been taken, so a phase that just ended has a
    /// sample after its end.
    pub fn settle(&self) {
        std::thread::sleep(self.interval + Duration::from_millis(5));
    }

    /// Record that `phase` starts now.
    pub fn mark(&self, phase: Phase) -> f64 {
        let t = self.now();
        let mut tl = self.timeline.lock().unwrap_or_else(|e| e.into_inner());
        tl.marks.push((t, phase));
        if let Some(sink) = self.sink.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            sink.write(&TimelineRecord::Phase { t_s: t, phase });
        }
        t
    }

    /// A copy of the timeline between `from_s` and `to_s`.
    pub fn window(&self, from_s: f64, to_s: f64) -> Timeline {
        let tl = self.timeline.lock().unwrap_or_else(|e| e.into_inner());
        tl.window(from_s, to_s)
    }

    pub fn stop(mut self) -> Timeline {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.timeline.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
