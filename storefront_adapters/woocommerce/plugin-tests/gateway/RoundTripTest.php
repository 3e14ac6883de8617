<?php
/**
 * Against a real voltbridge gateway (started by tests/integration/test_woocommerce_plugin.py, which passes
 * VB_GATEWAY_URL, VB_API_KEY, VB_WEBHOOK_SECRET, VB_SHOP_URL and VB_ORDER_STORE). Two phases, run one at a time:
 * checkout (before the Python side pays the invoice) and settled (after its webhooks reached the shop).
 */

use PHPUnit\Framework\TestCase;

class RoundTripTest extends TestCase {

	const ORDER_ID = 1001;

	protected function setUp(): void {
		if ( ! getenv( 'VB_GATEWAY_URL' ) || ! getenv( 'VB_ORDER_STORE' ) ) {
			$this->markTestSkipped( 'needs a running gateway (run through pytest)' );
		}
		vb_settings_from_env();
	}

	public function test_checkout_creates_the_invoice_on_the_gateway() {
		VB_Order_Store::create( array( 'id' => self::ORDER_ID, 'total' => '25.00', 'currency' => 'USD' ) );
		$gateway = new WC_Gateway_Voltbridge();

		$result = $gateway->process_payment( self::ORDER_ID );

		$this->assertSame( array(), $GLOBALS['vb_notices'], 'no checkout error' );
		$this->assertSame( 'success', $result['result'] );
		$order  = wc_get_order( self::ORDER_ID );
		$number = $order->get_meta( '_voltbridge_invoice_number' );
		$this->assertMatchesRegularExpression( '/^[A-Z0-9]{6,32}$/', $number );
		$this->assertSame( rtrim( getenv( 'VB_GATEWAY_URL' ), '/' ) . '/pay/' . $number, $result['redirect'] );

		// A second press of "Place order" (same order, same total) gets the same invoice back.
		$again = $gateway->process_payment( self::ORDER_ID );
		$this->assertSame( $result['redirect'], $again['redirect'] );
		$this->assertCount( 1, preg_grep( '/Voltbridge: invoice .* created/', wc_get_order( self::ORDER_ID )->get_notes() ) );
		$this->assertSame( 'pending', wc_get_order( self::ORDER_ID )->get_status() );
	}

	public function test_settled_order_was_moved_by_the_signed_webhooks() {
		$order = wc_get_order( self::ORDER_ID );
		$this->assertNotFalse( $order );
		$this->assertSame( 'processing', $order->get_status() );
		$this->assertSame( getenv( 'VB_EXPECT_TX' ), $order->get_transaction_id() );
		$notes = implode( "\n", $order->get_notes() );
		$this->assertStringContainsString( 'Order status changed from pending to on-hold', $notes );
		$this->assertStringContainsString( 'Order status changed from on-hold to processing', $notes );
		$this->assertCount( 2, $order->get_meta( '_voltbridge_events' ), 'payment_received and payment_completed' );
	}
}
