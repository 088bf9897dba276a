use super::*;

#[test]
fn int_column_is_exact_and_keeps_missing_values() {
    let values = [
        Some(4096 * 50_000),
        None,
        Some(4096 * 50_001),
        Some(1024 * 7), // kB granularity: re-encoded with a smaller shift
        Some(13),       // odd: shift 0
        None,
        Some(u64::from(u32::MAX) * 4096), // needs 8 bytes
        Some(0),
    ];
    let mut col = IntColumn::default();
    for v in values {
        col.push(v);
    }
    let back: Vec<Option<u64>> = col.iter().collect();
    assert_eq!(back, values);
    assert_eq!(col.present(), 6);
    assert_eq!(col.len(), 8);
}

#[test]
fn pages_take_two_bytes_and_counts_one() {
    let mut rss = IntColumn::default();
    let mut threads = IntColumn::default();
    for i in 0..1000u64 {
        rss.push(Some((48_000 + i) * 4096)); // about 200 MB, in whole pages
        threads.push(Some(40 + i % 9));
    }
    // Values, then one bit per row and an index entry per 512 rows.
    let presence = 16 * 8 + 2 * 4;
    assert_eq!(rss.heap_bytes(), 2000 + presence);
    assert_eq!(threads.heap_bytes(), 1000 + presence);
    assert_eq!(rss.get(999), Some(48_999 * 4096));
    assert_eq!(threads.get(8), Some(48));
}

#[test]
fn widening_keeps_earlier_values() {
    let mut col = IntColumn::default();
    let values = [
        Some(1),
        Some(255),
        None,
        Some(65_535),
        Some(1 << 40),
        Some(u64::MAX),
    ];
    for v in values {
        col.push(v);
    }
    let back: Vec<Option<u64>> = col.iter().collect();
    assert_eq!(&back[..5], &values[..5]);
    assert_eq!(back[5], Some(u64::MAX));
}

#[test]
fn sparse_rows_are_found_by_rank() {
    // PSS every fifth row over several index blocks; random access agrees with order.
    let mut col = IntColumn::default();
    for i in 0..5000u64 {
        col.push((i % 5 == 0).then_some(i * 1024));
    }
    assert_eq!(col.present(), 1000);
    for i in [0, 1, 5, 511, 512, 515, 1020, 4995, 4999] {
        let want = (i % 5 == 0).then_some(i as u64 * 1024);
        assert_eq!(col.get(i), want, "row {i}");
    }
    let rows: Vec<usize> = col.present_rows().map(|(r, _)| r).take(3).collect();
    assert_eq!(rows, [0, 5, 10]);
    assert!(col.heap_bytes() < 5000, "{}", col.heap_bytes());
}

#[test]
fn points_skip_missing_rows() {
    let mut cols = Columns::default();
    for i in 0..10 {
        cols.push(&Sample {
            t: i as f64,
            rss: Some(1000 + i),
            pss: (i % 5 == 0).then_some(2000 + i),
            cpu: (i > 0).then_some(0.25),
            ..Sample::default()
        });
    }
    assert_eq!(cols.points(Metric::Rss).count(), 10);
    let pss: Vec<(f64, f64)> = cols.points(Metric::Pss).collect();
    assert_eq!(pss, [(0.0, 2000.0), (5.0, 2005.0)]);
    let column = cols.int(Metric::Pss).unwrap();
    assert_eq!((column.present(), column.present_value(1)), (2, 2005));
    assert_eq!(cols.present(Metric::Cpu), 9);
    assert_eq!(cols.value(Metric::Cpu, 0), None);
    assert_eq!(
        cols.value(Metric::Threads, 3),
        None,
        "never read: missing, not 0"
    );
    assert_eq!(cols.max_int(Metric::Rss), Some(1009));
    assert_eq!(cols.max_int(Metric::Procs), None);
}

#[test]
fn cgroup_counters_are_exact_and_absent_ones_cost_nothing() {
    let mut cols = Columns::default();
    for i in 0..2000u64 {
        cols.push(&Sample {
            t: i as f64,
            rss: Some(4096 * 1000),
            cgroup_anon_bytes: (i >= 1000).then_some(4096 * (2000 + i)),
            cgroup_throttled_s: Some(i as f64 * 0.012_345),
            cgroup_periods: Some(10 * i),
            ..Sample::default()
        });
    }
    // Never read: no bits, no values.
    assert_eq!(cols.int(Metric::CgroupFile).unwrap().heap_bytes(), 0);
    assert_eq!(cols.value(Metric::CgroupFile, 1999), None);
    // Read from row 1000 on: rows before it are missing.
    assert_eq!(cols.value(Metric::CgroupAnon, 999), None);
    assert_eq!(cols.value(Metric::CgroupAnon, 1000), Some(4096.0 * 3000.0));
    assert_eq!(cols.present(Metric::CgroupAnon), 1000);
    // Seconds are whole microseconds; counters are kept as steps, summed back exactly.
    let throttled = cols.int(Metric::CgroupThrottledUs).unwrap();
    assert_eq!(throttled.get(0), Some(0));
    assert_eq!(throttled.get(1), Some(12_345));
    assert_eq!(
        cols.cumulative(Metric::CgroupThrottledUs).last(),
        Some((1999.0, 24_677_655.0))
    );
    assert_eq!(cols.value(Metric::CgroupPeriods, 7), Some(10.0));
    // A week of a counter's steps at 1 Hz takes a byte or two a sample: 10 periods a
    // second in one byte, 12 ms throttled a second in two.
    assert_eq!(
        cols.int(Metric::CgroupPeriods).unwrap().heap_bytes(),
        2000 + 256 + 16
    );
    assert!(
        throttled.heap_bytes() <= 2 * 2000 + 256 + 16,
        "{}",
        throttled.heap_bytes()
    );
    let bad = Sample {
        t: 2000.0,
        cgroup_cpu_s: Some(-1.0),
        cgroup_throttled_s: Some(f64::INFINITY),
        ..Sample::default()
    };
    assert!(cols.push(&bad));
    assert_eq!(cols.impossible_values(), 2);
    assert_eq!(cols.value(Metric::CgroupCpuUs, 2000), None);
}

#[test]
fn a_counter_that_goes_down_was_reset_and_counts_from_zero() {
    let mut cols = Columns::default();
    for (t, v) in [
        (0.0, Some(10)),
        (1.0, Some(15)),
        (2.0, None),
        (3.0, Some(20)),
        (4.0, Some(3)),
        (5.0, Some(8)),
    ] {
        cols.push(&Sample {
            t,
            cgroup_oom_kills: v,
            ..Sample::default()
        });
    }
    let steps: Vec<f64> = cols.points(Metric::CgroupOomKills).map(|p| p.1).collect();
    assert_eq!(steps, [0.0, 5.0, 5.0, 3.0, 5.0]);
    assert_eq!(
        cols.cumulative(Metric::CgroupOomKills).last(),
        Some((5.0, 18.0))
    );
}

#[test]
fn impossible_times_and_values_are_left_out_and_counted() {
    let at = |t: f64, rss: u64| Sample {
        t,
        rss: Some(rss),
        cpu: Some(0.5),
        ..Sample::default()
    };
    let mut cols = Columns::default();
    assert!(cols.push(&at(0.0, 100)));
    assert!(!cols.push(&at(f64::NAN, 100)));
    assert!(!cols.push(&at(1e308, 100)), "beyond ten years");
    assert!(!cols.push(&at(-1.0, 100)));
    assert!(cols.push(&at(2.0, 200)));
    assert!(!cols.push(&at(1.0, 100)), "before the row ahead of it");
    assert!(
        cols.push(&at(2.0, u64::MAX)),
        "the row stays, the value goes"
    );
    assert!(cols.push(&Sample {
        t: 3.0,
        threads: Some(u64::MAX),
        cpu: Some(f64::INFINITY),
        ..Sample::default()
    }));
    assert_eq!(cols.len(), 4);
    assert_eq!((cols.rejected_samples(), cols.impossible_values()), (4, 3));
    assert_eq!(cols.value(Metric::Rss, 2), None);
    assert_eq!(cols.value(Metric::Threads, 3), None);
    assert_eq!(cols.value(Metric::Cpu, 3), None);
    assert_eq!(cols.max_int(Metric::Rss), Some(200));
}
