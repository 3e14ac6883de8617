<?php
/**
 * Checkout: one invoice per order and total, the redirect, order meta, and errors the merchant can see.
 */

class ProcessPaymentTest extends VbTestCase {

	private function sent( $index = 0 ) {
		return json_decode( $GLOBALS['vb_http_log'][ $index ]['args']['body'], true );
	}

	public function test_creates_the_invoice_and_redirects_to_its_payment_page() {
		$id       = VB_Order_Store::create( array( 'id' => 42, 'total' => '99.99', 'currency' => 'EUR' ) );
		$external = WC_Gateway_Voltbridge::external_id( $this->order( $id ) );
		$GLOBALS['vb_http_queue'] = array( self::invoice_answer( 'INV0042', $external ) );

		$result = ( new WC_Gateway_Voltbridge() )->process_payment( $id );

		$this->assertSame( array( 'result' => 'success', 'redirect' => 'https://gateway.test/pay/INV0042' ), $result );
		$request = $GLOBALS['vb_http_log'][0];
		$this->assertSame( 'https://gateway.test/api/plugin/invoice/create', $request['url'] );
		$this->assertSame( 'POST', $request['args']['method'] );
		$this->assertSame( 'application/json', $request['args']['headers']['Content-Type'] );
		$body = $this->sent();
		$this->assertSame( self::API_KEY, $body['api_key'] );
		$this->assertSame( 'woocommerce', $body['platform'] );
		$this->assertSame( 'testnet', $body['network'] );
		$this->assertSame( 'fiat', $body['amount_type'] );
		$this->assertSame( '99.99', $body['amount'], 'a decimal string, not a float' );
		$this->assertSame( 'EUR', $body['fiat_currency'] );
		$this->assertSame( 24, $body['expiry_hours'] );
		$this->assertSame( 'https://shop.test/?wc-api=voltbridge', $body['callback_url'] );
		$this->assertSame( 'ada@example.com', $body['customer_email'] );
		$this->assertSame( 'Ada Lovelace', $body['customer_name'] );
		$this->assertSame( 42, $body['metadata']['order_id'] );
		$this->assertMatchesRegularExpression( '/^wc-42-[0-9a-f]{12}$/', $body['external_invoice_id'] );
		$this->assertSame( 42, Voltbridge_Webhook::order_id_from_external_id( $body['external_invoice_id'] ) );

		$order = $this->order( $id );
		$this->assertSame( 'INV0042', $order->get_meta( '_voltbridge_invoice_number' ) );
		$this->assertSame( $body['external_invoice_id'], $order->get_meta( '_voltbridge_external_id' ) );
		$this->assertSame( 'https://gateway.test/pay/INV0042', $order->get_meta( '_voltbridge_payment_url' ) );
		$this->assertSame( 'pending', $order->get_status(), 'unpaid until the gateway says so' );
		$this->assertStringContainsString( 'invoice INV0042 created for 99.99 EUR', implode( "\n", $order->get_notes() ) );
	}

	public function test_same_order_and_total_reuse_the_external_id_a_changed_total_does_not() {
		$id    = VB_Order_Store::create( array( 'id' => 7, 'total' => '10.00' ) );
		$first = WC_Gateway_Voltbridge::external_id( $this->order( $id ) );
		$GLOBALS['vb_http_queue'] = array(
			self::invoice_answer( 'INV1', $first ),
			self::invoice_answer( 'INV1', $first, 'pending', 200 ),
		);
		$gateway = new WC_Gateway_Voltbridge();
		$gateway->process_payment( $id );
		$gateway->process_payment( $id );
		$this->assertSame( $this->sent( 0 )['external_invoice_id'], $this->sent( 1 )['external_invoice_id'] );
		$this->assertCount( 1, preg_grep( '/invoice INV1 created/', $this->order( $id )->get_notes() ), 'one invoice, one note' );

		VB_Order_Store::put( array_merge( VB_Order_Store::all()[ '7' ], array( 'total' => '12.50' ) ) );
		$second = WC_Gateway_Voltbridge::external_id( $this->order( $id ) );
		$this->assertNotSame( $first, $second );
		$GLOBALS['vb_http_queue'] = array( self::invoice_answer( 'INV2', $second ) );
		$result = $gateway->process_payment( $id );
		$this->assertSame( $second, $this->sent( 2 )['external_invoice_id'] );
		$this->assertSame( '12.50', $this->sent( 2 )['amount'] );
		$this->assertSame( 'https://gateway.test/pay/INV2', $result['redirect'] );
		$this->assertSame( 'INV2', $this->order( $id )->get_meta( '_voltbridge_invoice_number' ) );
	}

	public function test_an_expired_invoice_for_the_same_total_is_replaced_by_a_fresh_one() {
		$id    = VB_Order_Store::create( array( 'id' => 8 ) );
		$first = WC_Gateway_Voltbridge::external_id( $this->order( $id ) );
		$GLOBALS['vb_http_queue'] = array(
			self::invoice_answer( 'OLD', $first, 'expired', 200 ),
			self::invoice_answer( 'NEW', $first . '-r1' ),
		);
		$result = ( new WC_Gateway_Voltbridge() )->process_payment( $id );
		$this->assertSame( $first . '-r1', $this->sent( 1 )['external_invoice_id'] );
		$this->assertSame( 8, Voltbridge_Webhook::order_id_from_external_id( $first . '-r1' ) );
		$this->assertSame( 'https://gateway.test/pay/NEW', $result['redirect'] );
	}

	public function test_gateway_unreachable_gives_a_checkout_error_and_an_order_note() {
		$id = VB_Order_Store::create( array( 'id' => 9 ) );
		$GLOBALS['vb_http_queue'] = array( null ); // connection refused

		$result = ( new WC_Gateway_Voltbridge() )->process_payment( $id );

		$this->assertSame( array( 'result' => 'failure' ), $result );
		$this->assertSame( 'error', $GLOBALS['vb_notices'][0][0] );
		$this->assertStringContainsString( 'unavailable', $GLOBALS['vb_notices'][0][1] );
		$note = implode( "\n", $this->order( $id )->get_notes() );
		$this->assertStringContainsString( 'could not be created: cURL error 7: Failed to connect (HTTP_ERROR)', $note );
		$this->assertSame( 'error', $GLOBALS['vb_log'][0][0] );
		$this->assertStringNotContainsString( self::API_KEY, json_encode( $GLOBALS['vb_log'] ), 'the key is never logged' );
	}

	public function test_gateway_refusal_reaches_the_order_note_with_its_error_code() {
		$id = VB_Order_Store::create( array( 'id' => 10 ) );
		$GLOBALS['vb_http_queue'] = array(
			self::answer( 409, array( 'success' => false, 'message' => 'External invoice ID already exists for this store with a different amount, currency or platform', 'error' => 'x', 'error_code' => 'DUPLICATE_EXTERNAL_ID' ) ),
		);
		$result = ( new WC_Gateway_Voltbridge() )->process_payment( $id );
		$this->assertSame( 'failure', $result['result'] );
		$this->assertStringContainsString( '(DUPLICATE_EXTERNAL_ID)', implode( "\n", $this->order( $id )->get_notes() ) );
		$this->assertCount( 1, $GLOBALS['vb_notices'] );
	}

	public function test_an_answer_that_is_not_json_is_an_error_too() {
		$id = VB_Order_Store::create( array( 'id' => 11 ) );
		$GLOBALS['vb_http_queue'] = array(
			array( 'response' => array( 'code' => 502, 'message' => '' ), 'body' => '<html>Bad gateway</html>', 'headers' => array() ),
		);
		$result = ( new WC_Gateway_Voltbridge() )->process_payment( $id );
		$this->assertSame( 'failure', $result['result'] );
		$this->assertStringContainsString( 'HTTP 502 without JSON', implode( "\n", $this->order( $id )->get_notes() ) );
	}

	public function test_missing_configuration_fails_without_calling_anyone() {
		update_option( 'woocommerce_voltbridge_settings', array( 'base_url' => '', 'api_key' => '' ) );
		$id     = VB_Order_Store::create( array( 'id' => 12 ) );
		$result = ( new WC_Gateway_Voltbridge() )->process_payment( $id );
		$this->assertSame( 'failure', $result['result'] );
		$this->assertSame( array(), $GLOBALS['vb_http_log'] );
		$this->assertStringContainsString( 'NOT_CONFIGURED', implode( "\n", $this->order( $id )->get_notes() ) );
	}

	public function test_thank_you_page_escapes_what_it_shows() {
		$id    = VB_Order_Store::create( array( 'id' => 13 ) );
		$order = $this->order( $id );
		$order->update_meta_data( '_voltbridge_invoice_number', 'INV<script>' );
		$order->update_meta_data( '_voltbridge_payment_url', 'https://gateway.test/pay/X?a="b"' );
		$order->save();
		ob_start();
		( new WC_Gateway_Voltbridge() )->thankyou_page( $id );
		$html = ob_get_clean();
		$this->assertStringContainsString( 'INV&lt;script&gt;', $html );
		$this->assertStringContainsString( 'href="https://gateway.test/pay/X?a=&quot;b&quot;"', $html );
	}
}
