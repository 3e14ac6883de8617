<?php
/**
 * Issue 20, point 6: WooCommerce's "Hold stock" cron never cancels an order whose invoice still takes payments.
 */

class StockHoldTest extends VbTestCase {

	protected function setUp(): void {
		parent::setUp();
		update_option( 'woocommerce_manage_stock', 'yes' );
		update_option( 'woocommerce_hold_stock_minutes', 60 );
	}

	protected function tearDown(): void {
		$GLOBALS['vb_time'] = null;
		parent::tearDown();
	}

	/** An order that went through checkout, with the invoice the gateway made for it. */
	private function order_with_invoice( $id, $expires_at, $payment_method = 'voltbridge' ) {
		$meta = array();
		if ( null !== $expires_at ) {
			$meta = array(
				Voltbridge_Webhook::META_INVOICE    => 'INV' . $id,
				Voltbridge_Webhook::META_EXPIRES_AT => $expires_at,
			);
		}
		VB_Order_Store::create(
			array(
				'id'             => $id,
				'payment_method' => $payment_method,
				'meta'           => $meta,
			)
		);
	}

	private function two_hours_later() {
		$GLOBALS['vb_time'] = time() + 2 * 3600; // past the 60 hold minutes
		wc_cancel_unpaid_orders();
	}

	public function test_an_order_whose_invoice_is_open_is_not_cancelled() {
		$this->order_with_invoice( 1, time() + 22 * 3600 );
		$this->two_hours_later();
		$this->assertSame( 'pending', $this->order( 1 )->get_status() );
	}

	public function test_an_order_whose_invoice_expired_is_cancelled_as_woocommerce_would() {
		$this->order_with_invoice( 2, time() - 1 );
		$this->two_hours_later();
		$this->assertSame( 'cancelled', $this->order( 2 )->get_status() );
	}

	public function test_other_orders_are_left_to_woocommerce() {
		$this->order_with_invoice( 3, time() + 22 * 3600, 'bacs' );
		$this->order_with_invoice( 4, null ); // voltbridge chosen, no invoice made (the gateway refused it)
		$this->two_hours_later();
		$this->assertSame( 'cancelled', $this->order( 3 )->get_status() );
		$this->assertSame( 'cancelled', $this->order( 4 )->get_status() );
	}

	public function test_the_filter_never_cancels_what_woocommerce_would_keep() {
		$this->order_with_invoice( 5, time() - 1 );
		$this->assertFalse( apply_filters( 'woocommerce_cancel_unpaid_order', false, $this->order( 5 ) ) );
	}

	public function test_checkout_records_the_invoice_expiry() {
		VB_Order_Store::create( array( 'id' => 6 ) );
		$answer = self::invoice_answer( 'INV6', WC_Gateway_Voltbridge::external_id( $this->order( 6 ) ) );
		$body   = json_decode( $answer['body'], true );
		$body['invoice']['expiry_date'] = '2030-01-02T03:04:05.000Z';
		$answer['body']                 = json_encode( $body );
		$GLOBALS['vb_http_queue']       = array( $answer );
		( new WC_Gateway_Voltbridge() )->process_payment( 6 );
		$this->assertSame( strtotime( '2030-01-02T03:04:05Z' ), $this->order( 6 )->get_meta( Voltbridge_Webhook::META_EXPIRES_AT ) );

		VB_Order_Store::create( array( 'id' => 7 ) ); // an answer without expiry_date: the configured 24 hours
		$GLOBALS['vb_http_queue'] = array( self::invoice_answer( 'INV7', WC_Gateway_Voltbridge::external_id( $this->order( 7 ) ) ) );
		$before                   = time();
		( new WC_Gateway_Voltbridge() )->process_payment( 7 );
		$expires = $this->order( 7 )->get_meta( Voltbridge_Webhook::META_EXPIRES_AT );
		$this->assertGreaterThanOrEqual( $before + 24 * 3600, $expires );
		$this->assertLessThanOrEqual( time() + 24 * 3600, $expires );
	}
}
