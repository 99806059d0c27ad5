//! fetchspan in a page: span lifecycle, byte counts, fidelity to the native `Response`, errors, leaks, lifecycle.
//! Needs the test server on 127.0.0.1:47811 (the test command starts it).
#![cfg(target_arch = "wasm32")]

mod support;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

scenarios! {
    cancel_closes_the_connection_and_ends_span_as_cancelled => "cancelClosesTheConnectionAndEndsSpanAsCancelled",
    slow_consumer_keeps_backpressure => "slowConsumerKeepsBackpressure",
    exact_byte_counts_for_every_way_of_reading => "exactByteCountsForEveryWayOfReading",
    responses_stay_genuine_and_behave_as_native => "responsesStayGenuineAndBehaveAsNative",
    errors_reach_the_app_unchanged_with_the_right_end_reason => "errorsReachTheAppUnchangedWithTheRightEndReason",
    already_aborted_signal_is_answered_by_the_native_promise => "alreadyAbortedSignalIsAnsweredByTheNativePromise",
    unhandled_fetch_failures_still_reach_the_page => "unhandledFetchFailuresStillReachThePage",
    no_per_request_leak => "noPerRequestLeak",
    abandoned_bodies_end_by_idle_timeout_and_by_collection => "abandonedBodiesEndByIdleTimeoutAndByCollection",
    install_and_uninstall_restore_everything => "installAndUninstallRestoreEverything",
    bad_options_and_double_install_reject_and_patch_nothing => "badOptionsAndDoubleInstallRejectAndPatchNothing",
    failures_of_ours_leave_requests_working => "failuresOfOursLeaveRequestsWorking",
    ignored_urls_are_not_traced => "ignoredUrlsAreNotTraced",
    traceparent_goes_only_where_it_may_and_carries_the_spans_ids => "traceparentGoesOnlyWhereItMayAndCarriesTheSpansIds",
    the_apps_own_traceparent_is_kept_and_becomes_the_parent => "theAppsOwnTraceparentIsKeptAndBecomesTheParent",
    propagation_leaves_the_callers_objects_and_behaviour_alone => "propagationLeavesTheCallersObjectsAndBehaviourAlone",
    a_redirect_to_an_origin_that_refuses_the_header_still_succeeds => "aRedirectToAnOriginThatRefusesTheHeaderStillSucceeds",
    sensitive_query_values_are_redacted => "sensitiveQueryValuesAreRedacted",
    relative_urls_are_recorded_as_fetch_resolves_them => "relativeUrlsAreRecordedAsFetchResolvesThem",
    resource_timing_is_taken_at_the_end_without_swapping_entries => "resourceTimingIsTakenAtTheEndWithoutSwappingEntries",
    captured_headers_and_attribute_hooks_stay_within_their_bounds => "capturedHeadersAndAttributeHooksStayWithinTheirBounds",
    request_body_sizes_are_known_without_reading_the_body => "requestBodySizesAreKnownWithoutReadingTheBody",
    the_request_constructor_behaves_natively => "theRequestConstructorBehavesNatively",
    streamed_uploads_are_counted_as_sent_and_behave_as_native => "streamedUploadsAreCountedAsSentAndBehaveAsNative",
    keepalive_requests_stay_keepalive => "keepaliveRequestsStayKeepalive",
    the_servers_trace_context_and_timings_are_recorded => "theServersTraceContextAndTimingsAreRecorded",
    spans_carry_semconv_attributes_and_events => "spansCarrySemconvAttributesAndEvents",
    quiet_sse_stream_stays_open_and_records_a_network_stall => "quietSseStreamStaysOpenAndRecordsANetworkStall",
    slow_consumer_records_backpressure_not_a_stall => "slowConsumerRecordsBackpressureNotAStall",
    a_stream_given_up_while_quiet_ends_with_its_stall => "aStreamGivenUpWhileQuietEndsWithItsStall",
    sse_events_are_counted_across_chunk_boundaries => "sseEventsAreCountedAcrossChunkBoundaries",
    every_stream_end_carries_the_bytes_the_app_received => "everyStreamEndCarriesTheBytesTheAppReceived",
    pipes_and_async_iteration_read_as_natively => "pipesAndAsyncIterationReadAsNatively",
    a_cloned_response_is_followed_to_the_branch_the_app_reads => "aClonedResponseIsFollowedToTheBranchTheAppReads",
    a_response_the_cache_takes_ends_when_put_settles => "aResponseTheCacheTakesEndsWhenPutSettles",
    a_response_a_webassembly_compile_takes_ends_when_the_compile_settles => "aResponseAWebAssemblyCompileTakesEndsWhenTheCompileSettles",
}

#[cfg(feature = "fault-injection")]
scenarios! {
    a_panic_leaves_the_request_working_and_does_not_poison_later_ones => "aPanicLeavesTheRequestWorkingAndDoesNotPoisonLaterOnes",
}
