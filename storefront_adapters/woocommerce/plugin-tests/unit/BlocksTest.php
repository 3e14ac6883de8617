<?php
/**
 * Issue 20, point 5: the payment method in the Cart and Checkout blocks.
 */

use Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType;
use Automattic\WooCommerce\Blocks\Payments\PaymentMethodRegistry;
use Automattic\WooCommerce\Utilities\FeaturesUtil;

class BlocksTest extends VbTestCase {

	private function registered() {
		$registry = new PaymentMethodRegistry();
		do_action( 'woocommerce_blocks_payment_method_type_registration', $registry );
		$this->assertArrayHasKey( 'voltbridge', $registry->registered );
		return $registry->registered['voltbridge'];
	}

	public function test_registered_on_woocommerce_blocks_loaded() {
		$this->assertTrue( has_action( 'woocommerce_blocks_loaded', 'voltbridge_wc_blocks_loaded' ) );
		$this->assertTrue( has_action( 'woocommerce_blocks_payment_method_type_registration', 'voltbridge_wc_register_blocks_method' ) );
		$method = $this->registered();
		$this->assertInstanceOf( AbstractPaymentMethodType::class, $method );
		$this->assertSame( 'voltbridge', $method->get_name() );
	}

	public function test_cart_checkout_blocks_declared_compatible() {
		$this->assertContains( array( 'cart_checkout_blocks', realpath( VB_PLUGIN_FILE ), true ), array_map(
			function ( $declared ) {
				return array( $declared[0], realpath( $declared[1] ), $declared[2] );
			},
			FeaturesUtil::$declared
		) );
	}

	public function test_the_script_is_registered_with_its_dependencies_and_translations() {
		$handles = $this->registered()->get_payment_method_script_handles();
		$this->assertSame( array( 'voltbridge-blocks' ), $handles );
		$script = $GLOBALS['vb_scripts']['voltbridge-blocks'];
		$this->assertSame( 'https://shop.test/wp-content/plugins/plugin/assets/js/blocks.js', $script['src'] );
		$this->assertFileExists( VB_PLUGIN_DIR . '/assets/js/blocks.js' );
		foreach ( array( 'wc-blocks-registry', 'wc-settings', 'wp-element', 'wp-html-entities', 'wp-i18n' ) as $dependency ) {
			$this->assertContains( $dependency, $script['deps'] );
		}
		$this->assertSame( VOLTBRIDGE_WC_VERSION, $script['ver'] );
		$this->assertTrue( $script['in_footer'] );
		$this->assertSame( array( 'voltbridge-woocommerce', VB_PLUGIN_DIR . '/languages' ), $GLOBALS['vb_script_i18n']['voltbridge-blocks'] );
	}

	public function test_the_script_gets_the_merchants_title_description_and_an_icon() {
		$settings                = get_option( 'woocommerce_voltbridge_settings' );
		$settings['title']       = 'Pay with crypto';
		$settings['description'] = 'USDC on Solana & more';
		update_option( 'woocommerce_voltbridge_settings', $settings );
		$data = $this->registered()->get_payment_method_data();
		$this->assertSame( 'Pay with crypto', $data['title'] );
		$this->assertSame( 'USDC on Solana & more', $data['description'] );
		$this->assertSame( array( 'products' ), $data['supports'] );
		$this->assertStringEndsWith( '/assets/images/voltbridge.svg', $data['icon'] );
		$this->assertFileExists( VB_PLUGIN_DIR . '/assets/images/voltbridge.svg' );
	}

	public function test_active_only_where_the_classic_gateway_is_available() {
		$this->assertTrue( $this->registered()->is_active() );
		update_option( 'woocommerce_currency', 'XAU' );
		$this->assertFalse( $this->registered()->is_active() );
		update_option( 'woocommerce_currency', 'EUR' );
		$this->assertTrue( $this->registered()->is_active() );
		$settings            = get_option( 'woocommerce_voltbridge_settings' );
		$settings['enabled'] = 'no';
		update_option( 'woocommerce_voltbridge_settings', $settings );
		$GLOBALS['vb_wc'] = null; // the next request
		$this->assertFalse( $this->registered()->is_active() );
	}
}
