<?php
/**
 * The wc-api webhook: the VOLTXT signature, then each event on the order; paid orders never move back.
 */

class WebhookTest extends VbTestCase {

	const EXTERNAL = 'wc-5-0123456789ab';

	protected function setUp(): void {
		parent::setUp();
		VB_Order_Store::create(
			array(
				'id'   => 5,
				'meta' => array(
					'_voltbridge_invoice_number' => 'INV5',
					'_voltbridge_external_id'    => self::EXTERNAL,
				),
			)
		);
	}

	private static function event( $event_type, $status, array $extra = array() ) {
		static $n = 0;
		++$n;
		return array_merge(
			array(
				'event_type'              => $event_type,
				'event_id'                => 'evt_' . $n . '_' . $event_type,
				'invoice_number'          => 'INV5',
				'external_invoice_id'     => self::EXTERNAL,
				'platform'                => 'woocommerce',
				'network'                 => 'sandbox',
				'status'                  => $status,
				'paid_currency'           => 'USDC',
				'crypto_currency'         => 'SOL',
				'amount_crypto'           => 0.066666667,
				'amount_received_crypto'  => 0.066666667,
				'remaining_amount_crypto' => 0,
				'payment_progress_percentage' => 100.0,
				'payment_tx_id'           => 'tx123',
				'is_paid_late'            => false,
			),
			$extra
		);
	}

	private function deliver( $body ) {
		return ( new Voltbridge_Webhook( self::SECRET, wc_get_logger() ) )->handle( $body );
	}

	private function status() {
		return $this->order( 5 )->get_status();
	}

	private function notes() {
		return implode( "\n", $this->order( 5 )->get_notes() );
	}

	public function test_signature_is_the_spec_hmac_over_the_five_fields() {
		$payload  = self::event( 'payment_received', 'paid' );
		$expected = hash_hmac( 'sha256', 'INV5' . self::EXTERNAL . 'payment_receivedpaidsandbox', self::SECRET );
		$this->assertSame( $expected, Voltbridge_Webhook::expected_signature( $payload, self::SECRET ) );
		$this->assertSame( 200, $this->deliver( self::signed( $payload ) )[0] );
	}

	public function test_bad_signatures_are_refused_and_change_nothing() {
		$payload = self::event( 'payment_completed', 'paid' );
		$tampered = json_decode( self::signed( $payload ), true );
		$tampered['status'] = 'auto_processed';
		$cases = array(
			'tampered field' => json_encode( $tampered ),
			'wrong secret'   => self::signed( $payload, 'another-secret' ),
			'no signature'   => json_encode( $payload ),
			'not a string'   => json_encode( array_merge( $payload, array( 'signature' => array( 'x' ) ) ) ),
		);
		foreach ( $cases as $case => $body ) {
			$this->assertSame( 401, $this->deliver( $body )[0], $case );
		}
		$this->assertSame( 400, $this->deliver( '{not json' )[0] );
		$this->assertSame( 'pending', $this->status() );
		$this->assertSame( '', $this->order( 5 )->get_transaction_id() );
	}

	public function test_without_a_configured_secret_nothing_is_accepted() {
		$handled = ( new Voltbridge_Webhook( '', wc_get_logger() ) )->handle( self::signed( self::event( 'payment_completed', 'paid' ), '' ) );
		$this->assertSame( 401, $handled[0] );
		$this->assertStringContainsString( 'not configured', $GLOBALS['vb_log'][0][1] );
	}

	public function test_payment_received_puts_the_order_on_hold() {
		$this->assertSame( array( 200, array( 'result' => 'ok', 'action' => 'on-hold' ) ), $this->deliver( self::signed( self::event( 'payment_received', 'paid' ) ) ) );
		$this->assertSame( 'on-hold', $this->status() );
		$this->assertStringContainsString( 'transaction tx123', $this->notes() );
	}

	public function test_payment_completed_completes_the_payment_with_the_transaction() {
		$this->deliver( self::signed( self::event( 'payment_received', 'paid' ) ) );
		$answer = $this->deliver( self::signed( self::event( 'payment_completed', 'paid' ) ) );
		$this->assertSame( 'payment-complete', $answer[1]['action'] );
		$this->assertSame( 'processing', $this->status() );
		$this->assertSame( 'tx123', $this->order( 5 )->get_transaction_id() );
	}

	public function test_partial_payment_adds_a_note_only() {
		$answer = $this->deliver( self::signed( self::event( 'partial_payment_received', 'underpaid', array( 'amount_received_crypto' => 0.03, 'remaining_amount_crypto' => 0.036666667, 'payment_progress_percentage' => 45.0 ) ) ) );
		$this->assertSame( 'note', $answer[1]['action'] );
		$this->assertSame( 'pending', $this->status() );
		$this->assertStringContainsString( 'partial payment received: 0.03, 0.036666667 SOL still due (45% paid)', $this->notes() );
	}

	public function test_expired_unpaid_cancels_and_expired_part_paid_fails() {
		$this->deliver( self::signed( self::event( 'invoice_expired', 'expired' ) ) );
		$this->assertSame( 'cancelled', $this->status() );

		VB_Order_Store::create( array( 'id' => 6, 'meta' => array( '_voltbridge_invoice_number' => 'INV6' ) ) );
		$this->deliver( self::signed( self::event( 'invoice_expired', 'underpaid', array( 'invoice_number' => 'INV6', 'external_invoice_id' => 'wc-6-00aa' ) ) ) );
		$this->assertSame( 'failed', $this->order( 6 )->get_status() );
	}

	public function test_late_payment_moves_a_cancelled_order_to_processing_with_a_note() {
		$this->deliver( self::signed( self::event( 'invoice_expired', 'expired' ) ) );
		$this->deliver( self::signed( self::event( 'payment_received', 'paid', array( 'is_paid_late' => true ) ) ) );
		$answer = $this->deliver( self::signed( self::event( 'payment_completed', 'paid', array( 'is_paid_late' => true ) ) ) );
		$this->assertSame( 'processing-late', $answer[1]['action'] );
		$this->assertSame( 'processing', $this->status() );
		$this->assertSame( 'tx123', $this->order( 5 )->get_transaction_id() );
		$this->assertStringContainsString( 'late payment (after the invoice expired)', $this->notes() );
	}

	public function test_processing_and_completed_orders_are_never_downgraded() {
		foreach ( array( 'processing', 'completed' ) as $status ) {
			VB_Order_Store::put( array_merge( VB_Order_Store::all()['5'], array( 'status' => $status ) ) );
			foreach ( array( array( 'payment_received', 'paid' ), array( 'invoice_expired', 'expired' ), array( 'invoice_expired', 'underpaid' ), array( 'payment_cancelled', 'cancelled' ), array( 'payment_completed', 'paid' ) ) as $event ) {
				$answer = $this->deliver( self::signed( self::event( $event[0], $event[1] ) ) );
				$this->assertSame( 200, $answer[0] );
				$this->assertSame( $status, $this->status(), "$status after {$event[0]}/{$event[1]}" );
			}
		}
	}

	public function test_unknown_orders_and_foreign_invoices_are_answered_200() {
		foreach ( array( 'wc-999-00aa', 'order_12345', '' ) as $external ) {
			$answer = $this->deliver( self::signed( self::event( 'payment_completed', 'paid', array( 'external_invoice_id' => $external ) ) ) );
			$this->assertSame( array( 200, array( 'result' => 'ignored', 'reason' => 'unknown order' ) ), $answer, $external );
		}
		$this->assertSame( 'pending', $this->status() );
	}

	public function test_a_retried_event_is_applied_once() {
		$body = self::signed( self::event( 'partial_payment_received', 'underpaid' ) );
		$this->deliver( $body );
		$this->assertSame( array( 200, array( 'result' => 'duplicate' ) ), $this->deliver( $body ) );
		$this->assertSame( 1, substr_count( $this->notes(), 'partial payment received' ) );
	}

	public function test_payment_to_a_superseded_invoice_is_noted_not_applied() {
		$answer = $this->deliver( self::signed( self::event( 'payment_completed', 'paid', array( 'invoice_number' => 'OLDINV' ) ) ) );
		$this->assertSame( 'note_superseded', $answer[1]['action'] );
		$this->assertSame( 'pending', $this->status() );
		$this->assertStringContainsString( 'invoice OLDINV, which this order no longer uses', $this->notes() );
	}

	public function test_unknown_events_are_acknowledged() {
		$answer = $this->deliver( self::signed( self::event( 'something_new', 'paid' ) ) );
		$this->assertSame( array( 200, array( 'result' => 'ok', 'action' => 'ignored' ) ), $answer );
	}

	public function test_the_wc_api_action_answers_as_json_with_the_status() {
		$gateway = new class() extends WC_Gateway_Voltbridge {
			public $body = '';
			protected function request_body() {
				return $this->body;
			}
		};
		$gateway->body = self::signed( self::event( 'payment_received', 'paid' ) );
		try {
			$gateway->handle_webhook();
			$this->fail( 'wp_send_json ends the request' );
		} catch ( VB_Request_Ended $ended ) {
			$this->assertSame( 200, $ended->status );
			$this->assertSame( 'on-hold', $ended->payload['action'] );
		}
		$gateway->body = '{"invoice_number":"INV5"}';
		try {
			$gateway->handle_webhook();
			$this->fail( 'wp_send_json ends the request' );
		} catch ( VB_Request_Ended $ended ) {
			$this->assertSame( 401, $ended->status );
		}
	}
}
