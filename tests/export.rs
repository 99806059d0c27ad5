//! OTLP/HTTP JSON export against the test server's strict receiver (every request decoded with
//! opentelemetry-proto): delivery, bounded queue, retries, deadlines, keepalive flush, and clean uninstall.
#![cfg(target_arch = "wasm32")]

mod support;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

scenarios! {
    exports_reach_the_collector_in_strict_otlp_json => "exportsReachTheCollectorInStrictOtlpJson",
    a_span_with_a_parent_a_link_and_server_timing_exports_strictly => "aSpanWithAParentALinkAndServerTimingExportsStrictly",
    collector_down_keeps_exactly_the_queue_bound_then_delivers => "collectorDownKeepsExactlyTheQueueBoundThenDelivers",
    retry_after_is_honoured => "retryAfterIsHonoured",
    flush_with_a_deadline_aborts_nothing_and_uninstall_aborts_the_rest => "flushWithADeadlineAbortsNothingAndUninstallAbortsTheRest",
    bad_request_is_not_retried => "badRequestIsNotRetried",
    bad_timeouts_are_refused_and_change_nothing => "badTimeoutsAreRefusedAndChangeNothing",
    an_endpoint_ending_in_the_traces_path_is_used_as_it_is => "anEndpointEndingInTheTracesPathIsUsedAsItIs",
    partial_success_counts_rejected_spans => "partialSuccessCountsRejectedSpans",
    a_burst_of_spans_stays_bounded => "aBurstOfSpansStaysBounded",
    hidden_page_flushes_with_keepalive_within_the_budget => "hiddenPageFlushesWithKeepaliveWithinTheBudget",
    a_span_waiting_for_its_timing_goes_out_with_the_unload_flush => "aSpanWaitingForItsTimingGoesOutWithTheUnloadFlush",
    install_and_uninstall_with_an_exporter_leave_nothing_behind => "installAndUninstallWithAnExporterLeaveNothingBehind",
    timers_of_ours_stay_out_of_the_apps_zone => "timersOfOursStayOutOfTheAppsZone",
}
